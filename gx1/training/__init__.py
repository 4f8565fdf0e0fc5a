"""Training the entry_v10 model, apart from the model itself (``gx1.models.entry_v10``).

    python3 -m gx1.models.entry_v10.entry_v10_ctx_train --help    # the command line (the plan names this path)

The modules: ``config`` (TrainConfig: every argument, default, help and range), ``run`` (one run: model,
loop, finish), ``run_inputs`` (what a run reads, checked, and where it writes), ``telemetry`` (run log, step and
epoch figures, metrics, report files), ``checkpoint`` (save and resume, in an envelope checked before anything is
loaded), ``distributed`` (DDP under torchrun). The command line and the
run both import ``config``; neither imports the other.
"""
