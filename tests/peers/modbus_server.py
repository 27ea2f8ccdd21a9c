#!/usr/bin/env python3
"""A plain pymodbus Modbus TCP server: the outside peer of tests/it/pymodbus.rs.

Nobody on the Takt team wrote the Modbus side of this: framing, function codes, bit packing and
exceptions are pymodbus's (the version tests/it/pymodbus.rs pins and installs). This file only
builds pymodbus's stock datastore and serves it; it runs no PLC logic. The Rust test plays the PLC
by writing registers over Modbus and reads back what the station wrote.

Usage: modbus_server.py [HOST [PORT]]   (defaults 127.0.0.1 and 0, an ephemeral port)

Prints one line `READY <port> pymodbus <version>` on stdout once it listens, then serves until its
stdin closes (the test holds the pipe; if the test process dies the server ends by itself) or it is
killed.

Addresses are 0-based PDU addresses, as on the wire and as Takt's [plc.map] names them:
  holding registers 0..19999 and coils 0..19999, read and written by clients as usual;
  input register A (0..9999) reads holding register 10000 + A, and discrete input A reads coil
  10000 + A. Input registers and discrete inputs cannot be written over Modbus, so this is how the
  test (playing the PLC program) sets them; a station that read holding register A where its map
  says input register A would read another value.
"""

import asyncio
import sys

import pymodbus
from pymodbus.constants import ExcCodes
from pymodbus.datastore import (
    ModbusDeviceContext,
    ModbusSequentialDataBlock,
    ModbusServerContext,
)
from pymodbus.datastore.store import BaseModbusDataBlock
from pymodbus.server import ModbusTcpServer

SIZE = 20000
MIRROR = 10000

# Function codes, as ModbusDeviceContext.getValues/setValues take them.
FC_HOLDING = 3
FC_INPUT = 4


class Mirror(BaseModbusDataBlock):
    """A read-only face of `backing`, shifted by `offset` addresses, for the first `size` ones."""

    def __init__(self, backing, offset, size):
        self.backing = backing
        self.offset = offset
        self.size = size
        self.address = backing.address
        self.values = backing.values
        self.default_value = backing.default_value

    def getValues(self, address, count=1):  # noqa: N802 (pymodbus's name)
        """Return `count` values of the backing block, `offset` further on."""
        first = address - self.address
        if first < 0 or first + count > self.size:
            return ExcCodes.ILLEGAL_ADDRESS
        return self.backing.getValues(address + self.offset, count)

    def setValues(self, address, values):  # noqa: N802
        """Refuse: no Modbus function writes input registers or discrete inputs."""
        return ExcCodes.ILLEGAL_ADDRESS


def device():
    """The device's four tables, 0-based as the client addresses them.

    pymodbus 3.11's ModbusDeviceContext adds 1 to every request address before it asks a block
    (datastore/context.py: `address += 1` in getValues and setValues; its maintainers: "Data are
    defined from 1 and upwards, which corresponds to requests from 0 and upwards"). So each block
    starts at 1, and PDU address A is `values[A]`.
    """
    holding = ModbusSequentialDataBlock(1, [0] * SIZE)
    coils = ModbusSequentialDataBlock(1, [False] * SIZE)
    return holding, ModbusDeviceContext(
        hr=holding,
        co=coils,
        ir=Mirror(holding, MIRROR, MIRROR),
        di=Mirror(coils, MIRROR, MIRROR),
    )


def check_addressing(holding, context):
    """Fail loudly if this pymodbus maps addresses otherwise (a bumped pin, a changed datastore)."""
    context.setValues(FC_HOLDING, 7, [0xBEEF])
    holding.values[MIRROR + 7] = 0x1234
    wrote = holding.values[7]
    mirrored = context.getValues(FC_INPUT, 7, 1)
    holding.values[7] = 0
    holding.values[MIRROR + 7] = 0
    if wrote != 0xBEEF or mirrored != [0x1234]:
        sys.exit(
            f"pymodbus {pymodbus.__version__} does not map addresses as this peer expects: "
            f"holding register 7 landed at values[7] = {wrote:#x} (want 0xbeef), "
            f"input register 7 read {mirrored} (want [0x1234]); see device() in {__file__}"
        )


async def serve(host, port):
    holding, context = device()
    check_addressing(holding, context)
    server = ModbusTcpServer(ModbusServerContext(devices=context, single=True), address=(host, port))
    await server.serve_forever(background=True)
    # pymodbus listens through asyncio's create_server: with port 0 the OS picks one.
    bound = server.transport.sockets[0].getsockname()[1]
    print(f"READY {bound} pymodbus {pymodbus.__version__}", flush=True)
    # Serve until the test closes our stdin (or dies, which closes it too).
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.buffer.read)
    await server.shutdown()


def main():
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    asyncio.run(serve(host, port))


if __name__ == "__main__":
    main()
