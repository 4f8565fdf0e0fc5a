"""entry_v10 model: definition (model.py) and training (entry_v10_ctx_train.py)."""
