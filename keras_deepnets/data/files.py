"""Image files on disk: class-folder listing, cheap validity checks and labels files.

Bad files are found when a folder is listed, not mid-epoch: each file's header (and its last
bytes) is read, which costs two small reads per file, far less than decoding it. A process
remembers each verdict by (path, size, mtime), so listing the same folder again (every epoch's
dataset, the mean, `describe`) costs one `stat` per file rather than two reads. A file that
fails is skipped, counted, and the first few paths are logged; with `strict=True` the first one
raises a `ValueError` naming it. What passes is decoded in the pipeline to 3-channel RGB whatever
its container (JPEG, also grayscale or CMYK; PNG, GIF or BMP, even under a .JPEG name).
"""

import concurrent.futures
import logging
import os
import struct

logger = logging.getLogger("keras_deepnets.data")

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp")
# Files in a class folder that are expected and silently passed over (not counted as bad).
_IGNORED_NAMES = (".DS_Store", "Thumbs.db", ".extracted")
_SHOWN_BAD = 5
# Bytes at the end of a file searched for an end marker; a few encoders pad after it.
_TAIL = 64


class BadImageError(ValueError):
    """A file that cannot be decoded as an image (raised only with `strict=True`)."""


def _jpeg_problem(head, tail):
    """Walks the JPEG marker segments up to the start of scan; a frame header must come first.

    Then the file must end with the EOI marker (FFD9): a truncated download lacks it. Entropy-coded
    data never holds FFD9 (byte stuffing), so finding it in the last bytes is a reliable sign.
    """
    pos = 2
    seen_frame = False
    while pos + 4 <= len(head):
        if head[pos] != 0xFF:
            return "broken JPEG marker structure"
        marker = head[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        length = struct.unpack(">H", head[pos + 2:pos + 4])[0]
        if length < 2:
            return "broken JPEG segment length"
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if pos + 10 > len(head):
                break
            height, width = struct.unpack(">HH", head[pos + 5:pos + 9])
            components = head[pos + 9]
            if height == 0 or width == 0 or components not in (1, 3, 4):
                return f"bad JPEG frame ({width}x{height}, {components} components)"
            seen_frame = True
        if marker == 0xDA:  # start of scan
            if not seen_frame:
                return "JPEG scan without a frame header"
            break
        pos += 2 + length
    if b"\xff\xd9" not in tail:
        return "truncated JPEG (no end-of-image marker)"
    return None


def image_problem(path):
    """Why `path` is not a decodable image (a short reason), or None when it looks fine."""
    try:
        size = os.path.getsize(path)
        if size == 0:
            return "zero-byte file"
        with open(path, "rb") as f:
            head = f.read(65536)
            if size > len(head):
                f.seek(size - _TAIL)
                tail = f.read()
            else:
                tail = head[-_TAIL:]
    except OSError as e:
        return f"unreadable ({e.strerror})"
    if head[:3] == b"\xff\xd8\xff":
        return _jpeg_problem(head, tail)
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return None if b"IEND" in tail[-16:] else "truncated PNG (no IEND chunk)"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return None if tail.rstrip(b"\x00").endswith(b";") else "truncated GIF"
    if head[:2] == b"BM" and len(head) >= 6:
        declared = struct.unpack("<I", head[2:6])[0]
        return None if declared <= size else "truncated BMP"
    return "not an image (unknown format)"


# (path, size, mtime_ns) -> image_problem's verdict; a file rewritten in place gets a new key.
_verdicts = {}


def _stamp(path):
    try:
        st = os.stat(path)
    except OSError:
        return None  # image_problem reports it; unreadable files are not remembered
    return (path, st.st_size, st.st_mtime_ns)


def _problems(paths):
    return [image_problem(p) for p in paths]


def check_images(paths, strict=False, what="images"):
    """Returns the indices of the paths that pass `image_problem`; logs or raises for the rest."""
    keys = [_stamp(p) for p in paths]  # None (unreadable) is never a key of _verdicts
    problems = [_verdicts.get(key) for key in keys]
    todo = [i for i, key in enumerate(keys) if key not in _verdicts]
    # Chunks, not one future per file: 50k futures cost more than the checks they would run.
    chunks = [todo[i:i + 256] for i in range(0, len(todo), 256)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        results = pool.map(_problems, ([paths[i] for i in chunk] for chunk in chunks))
        for chunk, whys in zip(chunks, results):
            for i, why in zip(chunk, whys):
                problems[i] = why
                if keys[i] is not None:
                    _verdicts[keys[i]] = why
    bad = [(p, why) for p, why in zip(paths, problems) if why]
    if bad and strict:
        path, why = bad[0]
        raise BadImageError(f"{path}: {why}. (Found {len(bad)} bad file(s) among {len(paths)} "
                            f"{what}; strict=False skips them.)")
    if bad:
        shown = "; ".join(f"{p} ({why})" for p, why in bad[:_SHOWN_BAD])
        logger.warning("Skipping %d of %d %s that cannot be decoded as images. First: %s",
                       len(bad), len(paths), what, shown)
    return [i for i, why in enumerate(problems) if not why]


def _is_candidate(name):
    return not name.startswith(".") and name not in _IGNORED_NAMES


def list_class_folder(root, strict=False):
    """`(paths, labels, class_names)` of `root/<class>/<file>`; class index = sorted folder names.

    Every class folder keeps its index even when it is empty (or all its files are bad), so that
    labels never shift; empty ones are logged. Every file in a class folder is checked, whatever
    its extension: an image under a wrong name is still an image, a README is not.
    """
    class_names = sorted(e.name for e in os.scandir(root) if e.is_dir() and _is_candidate(e.name))
    if not class_names:
        raise FileNotFoundError(f"{root} has no class sub-folders; expected root/<class>/<image>.")
    paths, labels = [], []
    for index, name in enumerate(class_names):
        folder = os.path.join(root, name)
        files = sorted(e.name for e in os.scandir(folder) if e.is_file() and _is_candidate(e.name))
        paths.extend(os.path.join(folder, f) for f in files)
        labels.extend([index] * len(files))
    keep = check_images(paths, strict=strict, what=f"files in {root}")
    paths = [paths[i] for i in keep]
    labels = [labels[i] for i in keep]
    present = set(labels)
    empty = [n for i, n in enumerate(class_names) if i not in present]
    if empty:
        logger.warning("%d class folder(s) of %s have no usable image; they keep their class index "
                       "(labels do not shift): %s", len(empty), root, ", ".join(empty[:10]))
    return paths, labels, class_names


def find_labels_file(folder):
    """A labels file for a flat image folder: inside it (labels.txt, *ground_truth*.txt or the
    only .txt file) or beside it (`<folder>.txt`, `<folder>_labels.txt`); None if there is none."""
    folder = os.path.normpath(folder)
    inside = sorted(n for n in os.listdir(folder) if n.lower().endswith(".txt"))
    for name in inside:
        if name.lower() == "labels.txt" or "ground_truth" in name.lower():
            return os.path.join(folder, name)
    if len(inside) == 1:
        return os.path.join(folder, inside[0])
    for beside in (folder + ".txt", folder + "_labels.txt"):
        if os.path.isfile(beside):
            return beside
    return None


def read_labels_file(labels_file, folder, class_names=None, label_offset=0, strict=False):
    """`(paths, labels, class_names)` of a flat folder of images described by `labels_file`.

    Two formats (ILSVRC2012 validation ground truth style):
    - one label per line, for the folder's image files in sorted file-name order;
    - `<file> <label>` lines.
    A label is a class index (minus `label_offset`: 1 for 1-based files) or a class name (e.g. a
    wnid), looked up in `class_names` (the train split's classes when known, else the sorted
    distinct names). Note the devkit's `ILSVRC2012_validation_ground_truth.txt` numbers classes by
    ILSVRC2012_ID, which is not the sorted-wnid order: use wnid labels (as TFDS's
    `validation_labels.txt`) or remap with the devkit's meta.mat first.
    """
    with open(labels_file) as f:
        rows = [line.split() for line in f if line.strip()]
    if not rows:
        raise ValueError(f"Labels file {labels_file} is empty.")
    if all(len(r) == 1 for r in rows):
        files = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS))
        if len(files) != len(rows):
            raise ValueError(
                f"Labels file {labels_file} has {len(rows)} lines but {folder} holds {len(files)} "
                f"image files ({', '.join(IMAGE_EXTENSIONS)}); one label per line must match the "
                "files in sorted name order. Use '<file> <label>' lines otherwise.")
        pairs = list(zip(files, (r[0] for r in rows)))
    elif all(len(r) == 2 for r in rows):
        pairs = [(r[0], r[1]) for r in rows]
    else:
        raise ValueError(f"Labels file {labels_file}: every line must be '<label>' or "
                         "'<file> <label>', the same form on all lines.")
    raw = [label for _, label in pairs]
    if all(v.lstrip("-").isdigit() for v in raw):
        labels = [int(v) - label_offset for v in raw]
        count = len(class_names) if class_names else max(labels) + 1
        if min(labels) < 0 or max(labels) >= count:
            raise ValueError(
                f"Labels file {labels_file} has class indices in [{min(labels)}, {max(labels)}] "
                f"after label_offset={label_offset}; expected [0, {count}). Pass label_offset=1 "
                "for 1-based labels.")
        class_names = class_names or [str(i) for i in range(count)]
    else:
        class_names = class_names or sorted(set(raw))
        index = {name: i for i, name in enumerate(class_names)}
        unknown = sorted(set(raw) - set(index))
        if unknown:
            raise ValueError(f"Labels file {labels_file} names classes not among the "
                             f"{len(class_names)} known: {unknown[:5]}")
        labels = [index[v] for v in raw]
    paths = [os.path.join(folder, name) for name, _ in pairs]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(f"Labels file {labels_file} lists {len(missing)} file(s) missing "
                                f"from {folder}, e.g. {missing[0]}")
    keep = check_images(paths, strict=strict, what=f"files in {folder}")
    return [paths[i] for i in keep], [labels[i] for i in keep], list(class_names)
