// Port 0x61, NMI status and control (ICH9 data sheet §13.7.1; "system control port B" of the PC/AT): bit 0 the
// gate of PIT channel 2, bit 1 speaker data, bits 2-3 SERR/IOCHK enables (kept, nothing raises them), bit 4 the
// refresh toggle (flips every 15.085 µs, as QEMU models it), bit 5 the output of PIT channel 2.
import { PortDevice, PortSize } from './port-io';
import { Pit8254 } from './pit8254';
import { PlatformTime } from './platform-time';

/** Half a period of the refresh toggle (bit 4), in ns. */
export const REFRESH_TOGGLE_NANOS = 15_085n;

export class Port61 implements PortDevice {
  readonly name = 'NMI status and control (PIT channel 2 gate, speaker)';
  private bits = 0;

  constructor(private readonly pit: Pit8254, private readonly time: PlatformTime) {}

  read(_offset: number, _size: PortSize): number {
    const refresh = (this.time.nowNanos() / REFRESH_TOGGLE_NANOS) & 1n;
    return (this.bits & 0x0f) | (refresh ? 0x10 : 0) | (this.pit.out(2) ? 0x20 : 0);
  }

  write(_offset: number, _size: PortSize, value: number): void {
    this.bits = value & 0x0f;
    this.pit.setGate2((value & 1) !== 0);
  }
}
