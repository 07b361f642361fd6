"""HealthLedger backend: patients own encrypted medical records; the chain proves none was changed."""
