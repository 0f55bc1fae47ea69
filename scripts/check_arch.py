"""Fail unless every shared object under a build directory is built for arm64 (aarch64).

Usage: python scripts/check_arch.py [.aws-sam/build]

The functions run on arm64. A layer built for x86_64 (e.g. a missing `BuildArchitecture: arm64`)
still deploys, and then fails at import time on AWS (pydantic_core), so we check the ELF header of
every `.so` instead of trusting the build.
"""

from __future__ import annotations

import sys
from pathlib import Path

ELF_MAGIC = b"\x7fELF"
MACHINES = {0x03: "x86", 0x28: "arm", 0x3E: "x86-64", 0xB7: "aarch64"}  # ELF e_machine values


def elf_machine(path: Path) -> str:
    header = path.read_bytes()[:20]
    if len(header) < 20 or header[:4] != ELF_MAGIC:
        return "not ELF"
    byteorder = "little" if header[5] == 1 else "big"  # EI_DATA: 1 = LSB, 2 = MSB
    machine = int.from_bytes(header[18:20], byteorder)  # e_machine
    return MACHINES.get(machine, f"machine {machine:#x}")


def is_shared_object(path: Path) -> bool:
    return path.is_file() and (path.suffix == ".so" or ".so." in path.name)


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else ".aws-sam/build")
    if not root.is_dir():
        print(f"check_arch: {root} does not exist; run `make build` first", file=sys.stderr)
        return 2
    objects = sorted(p for p in root.rglob("*") if is_shared_object(p))
    wrong = [(p, arch) for p in objects if (arch := elf_machine(p)) != "aarch64"]
    for path, arch in wrong:
        print(f"check_arch: {path}: {arch}, expected aarch64", file=sys.stderr)
    if not objects:
        # pydantic-core alone ships one: finding none means the layer was not built.
        print(f"check_arch: no shared objects under {root}", file=sys.stderr)
        return 1
    if wrong:
        return 1
    print(f"check_arch: {len(objects)} shared objects under {root}, all aarch64")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
