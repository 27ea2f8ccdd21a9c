//! PLC simulator speaking Modbus TCP with the default register map. (Being built.)
