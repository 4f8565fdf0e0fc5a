"""Model packages (entry_v10 model code; entry_v9 holds the generated feature contract)."""
