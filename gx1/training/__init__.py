"""Training the entry_v10 model, apart from the model itself (``gx1.models.entry_v10``).

    python3 -m gx1.models.entry_v10.entry_v10_ctx_train --help    # the command line (the plan names this path)

The modules: ``config`` (TrainConfig: every argument, default, help and range), ``run`` (one run: inputs,
model, loop, checkpoint, finish), ``telemetry`` (run log, step and epoch figures, metrics, report files),
``checkpoint`` (the resume file's envelope), ``distributed`` (DDP under torchrun). The command line and the
run both import ``config``; neither imports the other.
"""
