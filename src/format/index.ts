/** The .nerv container: everything runtime-neutral (the Node-only atomic writer lives in ./atomic.ts). */
export * from './nerv.ts';
export { NervFormatError, type NervFormatErrorKind } from '../errors.ts';
export { crc32 } from './crc32.ts';
