//! The PLC link: register map, Modbus TCP poller, command writes. (Being built.)
