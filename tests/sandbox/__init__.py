"""Tests of the local SMS Club emulator."""
