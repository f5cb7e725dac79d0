#!/usr/bin/env python3
"""Reads the TensorBoard event files of a training run back and checks them against what the
trainer logged (ctest tensorboard_events and faceswap_tensorboard, through
tests/checkers/tensorboard_check.sh, which installs `tensorboard` and `pillow` from PyPI into a
virtual environment).

  read_tensorboard.py --model DIR --logdir DIR --every N [--scalars FILE]

Checks:
- the folder holds one event file, named events.out.tfevents.<seconds>.<host>[.<n>]; every record's
  framing and both masked CRC-32C are right (read here, independently of TensorBoard), every record
  parses as a tensorflow.Event (protobuf's parser) and the first one alone is file_version
  "brain.Event:2";
- TensorBoard's own loader (EventAccumulator) reads it: the scalars loss/<side> at every N-th
  iteration equal, as float32, the losses.csv of the model folder, and no other step has them;
- with --scalars (a JSON list of {"step", "tag", "value"} the training program wrote from the
  trainer's accessors): the (tag, step) pairs are exactly those, and every value equals as float32;
- the image "preview" exists at exactly the iterations that have a preview_<N>.png in the model
  folder, its width and height are the picture's, and its bytes decode (Pillow) to the same pixels.
Exits 0 when everything holds, 1 with the differences otherwise.
"""
import argparse
import csv
import io
import json
import os
import re
import struct
import sys

import numpy as np
from PIL import Image
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.compat.proto import event_pb2


def crc32c_table():
    table = []
    for b in range(256):
        c = b
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        table.append(c)
    return table


TABLE = crc32c_table()


def masked_crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = (c >> 8) ^ TABLE[(c ^ b) & 0xFF]
    c ^= 0xFFFFFFFF
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_records(path, errors):
    """The records of one file, checking the TFRecord framing and both CRCs."""
    data = open(path, "rb").read()
    pos, records = 0, []
    while pos < len(data):
        n = len(records)
        if len(data) - pos < 12:
            errors.append(f"{path}: {len(data) - pos} stray bytes at the end")
            break
        (length,) = struct.unpack_from("<Q", data, pos)
        (length_crc,) = struct.unpack_from("<I", data, pos + 8)
        if length_crc != masked_crc32c(data[pos:pos + 8]):
            errors.append(f"{path}: record {n}: bad length CRC")
            break
        if len(data) - pos - 12 < length + 4:
            errors.append(f"{path}: record {n} is truncated")
            break
        record = data[pos + 12:pos + 12 + length]
        (data_crc,) = struct.unpack_from("<I", data, pos + 12 + length)
        if data_crc != masked_crc32c(record):
            errors.append(f"{path}: record {n}: bad data CRC")
        records.append(record)
        pos += 12 + length + 4
    return records


def f32(x):
    return np.float32(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--logdir", required=True)
    ap.add_argument("--every", type=int, required=True)
    ap.add_argument("--scalars")
    a = ap.parse_args()
    errors = []

    files = sorted(f for f in os.listdir(a.logdir) if "tfevents" in f)
    if len(files) != 1:
        print(f"expected one event file in {a.logdir}, found {files}")
        return 1
    if not re.fullmatch(r"events\.out\.tfevents\.\d+\.[^/]+", files[0]):
        errors.append(f"unexpected event file name {files[0]}")
    records = read_records(os.path.join(a.logdir, files[0]), errors)
    # Every record parses as a tensorflow.Event (protobuf's own parser); the first is the file version.
    events = [event_pb2.Event.FromString(r) for r in records]
    if not events or events[0].file_version != "brain.Event:2":
        errors.append("the first event is not file_version 'brain.Event:2'")
    if any(e.HasField("file_version") for e in events[1:]):
        errors.append("a file_version event after the first")

    acc = event_accumulator.EventAccumulator(
        a.logdir, size_guidance={event_accumulator.SCALARS: 0, event_accumulator.IMAGES: 0})
    acc.Reload()
    if acc.file_version != 2.0:  # TensorBoard parses "brain.Event:2" into 2.0
        errors.append(f"TensorBoard reads the file version as {acc.file_version!r}")
    tags = acc.Tags()
    scalars = {}
    for tag in tags["scalars"]:
        for e in acc.Scalars(tag):
            if (tag, e.step) in scalars:
                errors.append(f"scalar {tag} twice at step {e.step}")
            scalars[(tag, e.step)] = e.value
    images = {}
    for tag in tags["images"]:
        for e in acc.Images(tag):
            images[(tag, e.step)] = e

    # Side losses against losses.csv.
    with open(os.path.join(a.model, "losses.csv")) as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], rows[1:]
    sides = [h[len("loss_"):] for h in header[1:]]
    loss_checked = 0
    for r in rows:
        step = int(r[0])
        for side, value in zip(sides, r[1:]):
            key = (f"loss/{side}", step)
            if step % a.every == 0:
                if key not in scalars:
                    errors.append(f"no {key[0]} at step {step}")
                elif f32(scalars[key]) != f32(float(value)):
                    errors.append(f"{key[0]} at step {step}: {scalars[key]!r} in the events, {value} in losses.csv")
                else:
                    loss_checked += 1
            elif key in scalars:
                errors.append(f"{key[0]} at step {step}, which is not a multiple of {a.every}")
    if loss_checked == 0:
        errors.append("no loss was checked")

    # Every scalar against what the trainer logged.
    if a.scalars:
        with open(a.scalars) as f:
            logged = {(r["tag"], r["step"]): r["value"] for r in json.load(f)}
        for key in sorted(set(logged) - set(scalars)):
            errors.append(f"logged {key} is not in the events")
        for key in sorted(set(scalars) - set(logged)):
            errors.append(f"{key} in the events was not logged")
        for key in sorted(set(logged) & set(scalars)):
            if f32(logged[key]) != f32(scalars[key]):
                errors.append(f"{key}: {scalars[key]!r} in the events, {logged[key]!r} logged")
    for tag in ("learning_rate", "iterations_per_second"):
        if not any(t == tag for t, _ in scalars):
            errors.append(f"no scalar {tag}")

    # Previews.
    previews = {}
    for f in os.listdir(a.model):
        m = re.fullmatch(r"preview_(\d+)\.png", f)
        if m:
            previews[int(m.group(1))] = os.path.join(a.model, f)
    image_steps = {step for tag, step in images if tag == "preview"}
    if image_steps != set(previews):
        errors.append(f"preview images at steps {sorted(image_steps)}, preview files at {sorted(previews)}")
    if not previews:
        errors.append("the run wrote no preview")
    for step in sorted(image_steps & set(previews)):
        e = images[("preview", step)]
        got = np.asarray(Image.open(io.BytesIO(e.encoded_image_string)).convert("RGB"))
        want = np.asarray(Image.open(previews[step]).convert("RGB"))
        if (e.height, e.width) != want.shape[:2]:
            errors.append(f"preview at step {step}: {e.width} x {e.height} in the event, picture {want.shape[1]} x {want.shape[0]}")
        if got.shape != want.shape or not np.array_equal(got, want):
            errors.append(f"preview at step {step}: the pixels differ from {previews[step]}")
    if [t for t in tags["images"] if t != "preview"]:
        errors.append(f"unexpected image tags {tags['images']}")

    if errors:
        print("\n".join(errors))
        return 1
    print(f"{files[0]}: {len(records)} records; {len(scalars)} scalars in {len(tags['scalars'])} tags "
          f"({loss_checked} losses equal losses.csv" + (", all equal the trainer's log" if a.scalars else "") +
          f"), {len(image_steps)} previews equal the saved pictures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
