"""Check a `sam build` output: every compiled file and every wheel is for the functions' architecture.

sam build without a container resolves each function's and the layer's requirements for the template's
architecture (it downloads manylinux aarch64 wheels for arm64). A wheel for the build machine instead (x86_64)
would deploy fine and fail at the first import on Lambda; this finds it before:

- every ELF file (``.so`` and the like) must be for the architecture (ELF header ``e_machine``: 183 for aarch64,
  62 for x86_64);
- every ``*.dist-info/WHEEL`` tag must be pure (``-any``) or a manylinux tag of the architecture, for CPython 3.11.

Usage: ``python tests/build_check.py .aws-sam/build [--arch arm64]`` (exit 1 with the findings). ``make test`` runs
it on a fresh build (``make build-check``).
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ELF_MAGIC = b"\x7fELF"
ARCHES = {"arm64": (183, "aarch64"), "x86_64": (62, "x86_64")}  # template name: (e_machine, wheel platform)
MACHINE_NAMES = {183: "aarch64", 62: "x86_64", 3: "i386", 40: "arm", 243: "riscv"}
PYTHON = (3, 11)


@dataclass
class Report:
    elf_files: int = 0
    wheels: int = 0
    problems: list[str] = field(default_factory=list)


def elf_machine(head: bytes) -> int | None:
    """``e_machine`` of an ELF header (None when ``head`` is not one)."""
    if len(head) < 20 or not head.startswith(ELF_MAGIC):
        return None
    order = "little" if head[5] == 1 else "big"  # EI_DATA: 1 little-endian, 2 big-endian
    return int.from_bytes(head[18:20], order)


def _tag_fits(tag: str, platform: str) -> bool:
    """Whether a wheel tag (``cp311-cp311-manylinux_2_17_aarch64``, ``py3-none-any``...) runs on CPython 3.11
    on manylinux ``platform``."""
    parts = tag.split("-")
    if len(parts) != 3:
        return False
    pythons, abis, platforms = (p.split(".") for p in parts)
    for plat in platforms:
        if plat != "any" and not re.fullmatch(rf"manylinux(1|2010|2014|_\d+_\d+)_{platform}", plat):
            return False
    ok_python = False
    for py in pythons:
        m = re.fullmatch(r"(py|cp)(\d)(\d*)", py)
        if not m:
            continue
        major, minor = int(m.group(2)), int(m.group(3) or 0)
        if m.group(1) == "py" and major == PYTHON[0] and (not m.group(3) or (major, minor) <= PYTHON):
            ok_python = True
        if m.group(1) == "cp" and (major, minor) == PYTHON:
            ok_python = True
        if m.group(1) == "cp" and "abi3" in abis and (major, minor) <= PYTHON:
            ok_python = True
    return ok_python


def check(build_dir: Path, arch: str = "arm64") -> Report:
    machine, platform = ARCHES[arch]
    report = Report()
    for path in sorted(build_dir.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        where = path.relative_to(build_dir)
        if path.name == "WHEEL" and path.parent.name.endswith(".dist-info"):
            report.wheels += 1
            tags = [line.split(":", 1)[1].strip() for line in path.read_text(errors="replace").splitlines()
                    if line.startswith("Tag:")]
            bad = [t for t in tags if not _tag_fits(t, platform)]
            if not tags or bad:
                report.problems.append(f"{where}: wheel tag {bad or 'missing'} is not for CPython "
                                       f"{PYTHON[0]}.{PYTHON[1]} on manylinux {platform} (nor pure)")
            continue
        with path.open("rb") as f:
            found = elf_machine(f.read(20))
        if found is None:
            continue
        report.elf_files += 1
        if found != machine:
            report.problems.append(f"{where}: compiled for {MACHINE_NAMES.get(found, f'e_machine {found}')}, "
                                   f"not {platform}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build_dir", type=Path)
    parser.add_argument("--arch", choices=sorted(ARCHES), default="arm64")
    args = parser.parse_args(argv)
    built = sorted(p.name for p in args.build_dir.iterdir() if p.is_dir()) if args.build_dir.is_dir() else []
    if not built:
        print(f"build check: nothing built in {args.build_dir}", file=sys.stderr)
        return 1
    report = check(args.build_dir, args.arch)
    if report.elf_files == 0 or report.wheels == 0:
        report.problems.append(f"no compiled file or no wheel found: is {args.build_dir} a sam build output?")
    for problem in report.problems:
        print(f"build check: {problem}", file=sys.stderr)
    if report.problems:
        return 1
    print(f"build check: {len(built)} artifacts ({', '.join(built)}), {report.wheels} wheels and "
          f"{report.elf_files} compiled files, all for {ARCHES[args.arch][1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
