"""Password hashing: argon2id (argon2-cffi).

Parameters are settings (``ADMIN_UI_ARGON2_TIME_COST``, ``ADMIN_UI_ARGON2_MEMORY_KIB``) chosen for about
50 ms per hash on the machine the platform is measured on (2 vCPU): time_cost=4, memory_cost=24 MiB,
parallelism=1 took 48 ms (median of 20 verifications; 46-50 ms; bench/admin reports it with every run,
docs/benchmarks.md). Time rather than memory was raised to reach 50 ms: each hash holds its memory
while it runs, and admin-ui's pods (384 MiB limit) may hash for 8 sign-ins at once (2 workers × 4
threads): 8 × 24 MiB fits, 8 × 46 MiB would not. 24 MiB with t=4 is above OWASP's argon2id floors
(19 MiB with t=2, or 9 MiB with t=4). A hash records its own parameters, so raising them later
re-hashes each password at its owner's next sign-in (``needs_rehash``); the hashes made with the
previous t=2 are upgraded that way.
"""

from __future__ import annotations

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

DEFAULT_TIME_COST = 4
DEFAULT_MEMORY_KIB = 24_576


class Argon2PasswordHasher:
    def __init__(self, time_cost: int = DEFAULT_TIME_COST, memory_kib: int = DEFAULT_MEMORY_KIB) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=1, type=argon2.Type.ID
        )
        self._dummy = self._hasher.hash("not a password anyone has: timing equaliser")

    @property
    def dummy_hash(self) -> str:
        return self._dummy

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True
