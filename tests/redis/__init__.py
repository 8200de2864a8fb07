"""Tests of the Redis-backed rate limiter (need a redis-server binary)."""
