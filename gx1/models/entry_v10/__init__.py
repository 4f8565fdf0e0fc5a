"""The entry_v10 entry model: the network and its ops, its inputs, its variant (see each module's docstring).

Training is ``gx1.training`` (the command line stays ``python3 -m gx1.models.entry_v10.entry_v10_ctx_train``);
the bundle format is ``gx1.bundle``.
"""

OUTPUT_COLUMNS = ("direction_logit", "early_move_logit", "quality")  # the model's (B, 3) output, in order
