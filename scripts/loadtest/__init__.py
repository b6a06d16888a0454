"""The parts of scripts/load_test.py: the gunicorn server it starts, the reading clients, the writers."""
