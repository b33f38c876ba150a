// The 16550A UART at 0x3f8 (COM1, the one serial port of QEMU's q35; NS16550A data sheet). What the guest transmits
// goes to the console stream and the report's `serial`. No line is attached for input: the receiver stays empty,
// except in loopback mode (MCR bit 4), where transmitted bytes come back as the data sheet says (drivers probe with
// it). Modem status as QEMU reports a connected character device: CTS, DSR, DCD.
import { PortDevice, PortSize } from './port-io';

const RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6; // 7: SCR, plain storage
const LCR_DLAB = 0x80, MCR_LOOP = 0x10;
const LSR_DR = 0x01, LSR_THRE = 0x20, LSR_TEMT = 0x40;

export class Uart16550 implements PortDevice {
  readonly name = '16550A UART (COM1)';
  private readonly regs = new Uint8Array(8);
  private divisor = 12; // 9600 baud until programmed
  private fifo = false;
  private readonly rx: number[] = [];
  private readonly out: number[] = [];

  constructor(private readonly onOutput: (text: string) => void) {}

  /** Everything transmitted, as Latin-1 text (bytes as they went out). */
  text(): string {
    return Buffer.from(this.out).toString('latin1');
  }

  read(offset: number, _size: PortSize): number {
    const dlab = (this.regs[LCR] & LCR_DLAB) !== 0;
    switch (offset) {
      case RBR_THR: return dlab ? this.divisor & 0xff : (this.rx.shift() ?? 0);
      case IER: return dlab ? this.divisor >> 8 : this.regs[IER] & 0x0f;
      case IIR_FCR: return (this.fifo ? 0xc0 : 0) | 0x01; // no interrupt pending
      case LSR: return (this.rx.length > 0 ? LSR_DR : 0) | LSR_THRE | LSR_TEMT;
      case MSR: {
        const mcr = this.regs[MCR];
        // Loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
        if (mcr & MCR_LOOP) return ((mcr & 1) << 5) | ((mcr & 2) << 3) | ((mcr & 4) << 4) | ((mcr & 8) << 4);
        return 0xb0;
      }
      default: return this.regs[offset];
    }
  }

  write(offset: number, _size: PortSize, value: number): void {
    value &= 0xff;
    const dlab = (this.regs[LCR] & LCR_DLAB) !== 0;
    if (offset === RBR_THR && dlab) this.divisor = (this.divisor & 0xff00) | value;
    else if (offset === IER && dlab) this.divisor = (this.divisor & 0xff) | (value << 8);
    else if (offset === RBR_THR) {
      if (this.regs[MCR] & MCR_LOOP) {
        if (this.rx.length < 16) this.rx.push(value);
      } else {
        this.out.push(value);
        this.onOutput(String.fromCharCode(value));
      }
    } else if (offset === IIR_FCR) {
      this.fifo = (value & 1) !== 0;
      if (value & 2) this.rx.length = 0;
    } else if (offset !== LSR && offset !== MSR) this.regs[offset] = value;
  }
}
