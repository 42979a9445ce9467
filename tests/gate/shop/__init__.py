"""A one-model app whose migration modules the gate tests swap with MIGRATION_MODULES."""
