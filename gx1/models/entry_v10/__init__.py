"""The entry_v10 entry model: network, inputs, training, bundle format (see each module's docstring)."""

OUTPUT_COLUMNS = ("direction_logit", "early_move_logit", "quality")  # the model's (B, 3) output, in order
