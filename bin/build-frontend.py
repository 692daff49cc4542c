"""Build the web UI: ``frontend/`` into ``src/conduit/static/`` (``make frontend``).

The ES modules of ``frontend/src`` and the two libraries (marked, DOMPurify: ``npm ci`` in ``frontend/``)
are written to ``static/assets/`` with a content hash in each name, imports rewritten to the hashed names;
the stylesheet likewise. ``index.html`` names them. Files of ``frontend/public`` are copied as they are.
Each text file of at least 512 bytes gets a ``.gz`` beside it for nginx's ``gzip_static`` (the same rule
as ``bin/stack.py``). The build owns the output directory: what it did not write is removed.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "frontend"
OUTPUT = ROOT / "src" / "conduit" / "static"
ASSETS = "assets"
VENDOR = {
    "marked.js": "node_modules/marked/lib/marked.esm.js",
    "purify.js": "node_modules/dompurify/dist/purify.es.mjs",
}
ENTRY = "main.js"
STYLESHEET = "conduit.css"
IMPORT = re.compile(r"""(\b(?:from|import)\s*)(["'])\./([\w.-]+\.js)\2""")
SOURCE_MAP = re.compile(r"^//# sourceMappingURL=.*$", re.MULTILINE)
COMPRESSIBLE = {".html", ".css", ".js", ".svg", ".json", ".txt"}
MIN_COMPRESSED_SIZE = 512


class BuildError(Exception):
    pass


def fingerprinted(name: str, content: bytes) -> str:
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}.{hashlib.sha256(content).hexdigest()[:12]}{dot}{suffix}"


def read_modules(frontend: Path) -> dict[str, str]:
    modules = {path.name: path.read_text() for path in sorted((frontend / "src").glob("*.js"))}
    for name, relative in VENDOR.items():
        library = frontend / relative
        if not library.is_file():
            raise BuildError(f"{library} is missing: run `npm ci` in {frontend}")
        if name in modules:
            raise BuildError(f"frontend/src/{name} clashes with a library of the same name")
        modules[name] = SOURCE_MAP.sub("", library.read_text()).rstrip() + "\n"
    return modules


def hash_modules(modules: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Each module's hashed name and text, imports pointing at the hashed names of what they import."""
    built: dict[str, tuple[str, str]] = {}
    visiting: list[str] = []

    def build(name: str) -> str:
        if name in built:
            return built[name][0]
        if name in visiting:
            raise BuildError("import cycle: " + " -> ".join([*visiting, name]))
        if name not in modules:
            raise BuildError(f"{visiting[-1]} imports ./{name}, which does not exist")
        visiting.append(name)

        def rewrite(match: re.Match[str]) -> str:
            return f"{match[1]}{match[2]}./{build(match[3])}{match[2]}"

        text = IMPORT.sub(rewrite, modules[name])
        visiting.pop()
        built[name] = (fingerprinted(name, text.encode()), text)
        return built[name][0]

    build(ENTRY)
    unused = sorted(set(modules) - set(built))
    if unused:
        raise BuildError(f"modules nothing imports: {', '.join(unused)}")
    return built


def build(frontend: Path) -> dict[str, bytes]:
    """Every output file, by its path relative to the output directory."""
    files: dict[str, bytes] = {}
    modules = hash_modules(read_modules(frontend))
    for hashed, text in modules.values():
        files[f"{ASSETS}/{hashed}"] = text.encode()
    css = (frontend / "styles" / STYLESHEET).read_bytes()
    stylesheet = f"{ASSETS}/{fingerprinted(STYLESHEET, css)}"
    files[stylesheet] = css
    entry = modules[ENTRY][0]
    preloads = "\n".join(
        f'  <link rel="modulepreload" href="/static/{ASSETS}/{hashed}">'
        for name, (hashed, _) in sorted(modules.items())
        if name != ENTRY
    )
    page = (frontend / "index.html").read_text()
    for placeholder, value in {
        "{{ stylesheet }}": f"/static/{stylesheet}",
        "{{ script }}": f"/static/{ASSETS}/{entry}",
        "{{ modulepreloads }}": preloads.lstrip(),
    }.items():
        if placeholder not in page:
            raise BuildError(f"frontend/index.html lacks {placeholder}")
        page = page.replace(placeholder, value)
    files["index.html"] = page.encode()
    for path in sorted((frontend / "public").rglob("*")):
        if path.is_file():
            files[path.relative_to(frontend / "public").as_posix()] = path.read_bytes()
    return files


def compressed(files: dict[str, bytes]) -> dict[str, bytes]:
    return {
        f"{name}.gz": gzip.compress(content, compresslevel=9, mtime=0)
        for name, content in files.items()
        if Path(name).suffix in COMPRESSIBLE and len(content) >= MIN_COMPRESSED_SIZE
    }


def write(files: dict[str, bytes], output: Path) -> None:
    everything = files | compressed(files)
    if output.exists():
        for path in sorted(output.rglob("*"), reverse=True):
            relative = path.relative_to(output).as_posix()
            if path.is_dir() and not any(name.startswith(relative + "/") for name in everything):
                shutil.rmtree(path)
            elif path.is_file() and relative not in everything:
                path.unlink()
    for name, content in everything.items():
        target = output / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_bytes() != content:
            target.write_bytes(content)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write (default: %(default)s)")
    parser.add_argument("--frontend", type=Path, default=FRONTEND, help="the sources (default: %(default)s)")
    args = parser.parse_args()
    try:
        files = build(args.frontend)
    except BuildError as error:
        print(f"build-frontend: error: {error}", file=sys.stderr)
        return 1
    write(files, args.output)
    assets = [content for name, content in files.items() if name.endswith((".js", ".css"))]
    zipped = sum(len(gzip.compress(content, compresslevel=9, mtime=0)) for content in assets)
    print(f"build-frontend: {len(files)} files in {args.output}; JS+CSS {zipped / 1024:.1f} KB gzipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
