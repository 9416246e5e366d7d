"""Everyday care on the same database: patients, doctors, schedules, appointments, records."""
