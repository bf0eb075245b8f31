"""Run ``python -m training`` commands in this process on N simulated devices: ``python -m tests.distribute.runner N ARGS``.

The devices must exist before the backend starts, so this is a fresh process: for JAX,
``XLA_FLAGS=--xla_force_host_platform_device_count=N``; for TensorFlow, N logical CPU
devices.  ARGS are one or more command lines separated by ``--then``, run one after the
other (the backend starts once).
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    devices = int(argv[0])
    if os.environ.get("KERAS_BACKEND") == "jax":
        os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    else:
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
    from training.cli import main as cli

    commands: list[list[str]] = [[]]
    for arg in argv[1:]:
        if arg == "--then":
            commands.append([])
        else:
            commands[-1].append(arg)
    for command in commands:
        code = cli(command)
        if code:
            return int(code)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
