// Protocols a guest asks for and does not get are listed in the report by GUID, name, caller and count (issue 14).
import test from 'ava';
import { GUID, guidToBytes } from '../core/guid';
import { Asm } from './helpers/guest-asm';
import { runCode } from './helpers/guest-code';

/** .text's RVA in codeImage (the entry point). */
const TEXT = 0x1000;
const UNKNOWN = '0badc0de-1234-4abc-8def-0123456789ab';
/** EFI_HII_IMAGE_PROTOCOL_GUID (UEFI 2.10 §34.4), written out from the spec; stubemu does not offer it. */
const HII_IMAGE = '31a6406a-6bdf-4e46-b2a2-ebaa89c40920';
const ByProtocol = 2;

test('misses of LocateProtocol, HandleProtocol, LocateHandleBuffer and OpenProtocol are listed with the caller and a count; hits are not', (t) => {
  const a = new Asm().prologue()
    // LocateProtocol(UNKNOWN) twice from one site, once from another
    .movImm('rax', 2).storeStack(0x48, 'rax').label('loop')
    .leaRip('rcx', 'unknown').movImm('rdx', 0).leaStack('r8', 0x30).callBs('LocateProtocol').label('site1')
    .loadStack('rax', 0x48).emit(0x48, 0xff, 0xc8).storeStack(0x48, 'rax').jnzRax('loop')
    .leaRip('rcx', 'unknown').movImm('rdx', 0).leaStack('r8', 0x30).callBs('LocateProtocol').label('site2')
    // HandleProtocol(ImageHandle, SimpleTextOutput): installed on other handles, not on the image's
    .emit(0x4c, 0x89, 0xe1).leaRip('rdx', 'conout').leaStack('r8', 0x30).callBs('HandleProtocol').label('site3')
    // LocateHandleBuffer(ByProtocol, HII image)
    .movImm('rcx', ByProtocol).leaRip('rdx', 'hiiimage').movImm('r8', 0).leaStack('r9', 0x38)
    .leaStack('rax', 0x40).storeStack(0x20, 'rax').callBs('LocateHandleBuffer').label('site4')
    // OpenProtocol(ImageHandle, HII image, &Interface, ImageHandle, NULL, EFI_OPEN_PROTOCOL_GET_PROTOCOL)
    .storeStackImm(0x20, 0).storeStackImm(0x28, 2)
    .emit(0x4c, 0x89, 0xe1).leaRip('rdx', 'hiiimage').leaStack('r8', 0x30).emit(0x4d, 0x89, 0xe1) // mov r9, r12
    .callBs('OpenProtocol').label('site5')
    // a hit: LocateProtocol(SimpleTextOutput)
    .leaRip('rcx', 'conout').movImm('rdx', 0).leaStack('r8', 0x30).callBs('LocateProtocol')
    .movImm('rax', 0).epilogue()
    .dataLabel('unknown', guidToBytes(UNKNOWN))
    .dataLabel('conout', guidToBytes(GUID.SIMPLE_TEXT_OUTPUT))
    .dataLabel('hiiimage', guidToBytes(HII_IMAGE));
  const r = runCode(a.build());
  t.is(r.outcome.kind, 'returned');
  const at = (label: string) => `code.efi+0x${(TEXT + a.offsetOf(label)).toString(16)}`;
  t.deepEqual(r.report.missingProtocols, [
    {
      guid: UNKNOWN, calls: 3, installed: false,
      callers: [
        { service: 'BootServices.LocateProtocol', caller: at('site1'), calls: 2 },
        { service: 'BootServices.LocateProtocol', caller: at('site2'), calls: 1 },
      ],
    },
    {
      guid: GUID.SIMPLE_TEXT_OUTPUT, name: 'EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL', calls: 1, installed: true,
      callers: [{ service: 'BootServices.HandleProtocol', caller: at('site3'), calls: 1 }],
    },
    {
      guid: HII_IMAGE, name: 'EFI_HII_IMAGE_PROTOCOL', calls: 2, installed: false,
      callers: [
        { service: 'BootServices.LocateHandleBuffer', caller: at('site4'), calls: 1 },
        { service: 'BootServices.OpenProtocol', caller: at('site5'), calls: 1 },
      ],
    },
  ]);
});
