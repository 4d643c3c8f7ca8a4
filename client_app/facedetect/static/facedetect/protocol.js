// Browser <-> relay wire format (docs/protocols.md): every WebSocket message is binary,
//   u32 big-endian header length | UTF-8 JSON header | JPEG payload.
// The browser sends frames {seq, direction, options, sent_at, captured_at} and receives results
// {seq, status, reason, faces, timings_ms, dropped, sent_at} with a JPEG payload (maybe empty).

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

export class ProtocolError extends Error {}

/**
 * Build one binary message.
 * @param {object} header  JSON-serialisable header object
 * @param {ArrayBuffer|Uint8Array} payload  JPEG bytes (may be empty)
 * @returns {ArrayBuffer}
 */
export function encodeMessage(header, payload) {
  const headerBytes = textEncoder.encode(JSON.stringify(header));
  const payloadBytes = payload instanceof Uint8Array ? payload : new Uint8Array(payload || new ArrayBuffer(0));
  const buffer = new ArrayBuffer(4 + headerBytes.length + payloadBytes.length);
  new DataView(buffer).setUint32(0, headerBytes.length, false);
  const bytes = new Uint8Array(buffer);
  bytes.set(headerBytes, 4);
  bytes.set(payloadBytes, 4 + headerBytes.length);
  return buffer;
}

/**
 * Split one binary message into its header object and payload bytes.
 * @param {ArrayBuffer} buffer
 * @returns {{header: object, payload: Uint8Array}}
 * @throws {ProtocolError} when the message is shorter than its header or the header is not a JSON object
 */
export function decodeMessage(buffer) {
  if (!(buffer instanceof ArrayBuffer)) {
    throw new ProtocolError('expected a binary message');
  }
  if (buffer.byteLength < 4) {
    throw new ProtocolError(`message of ${buffer.byteLength} bytes is shorter than its 4-byte header length`);
  }
  const headerLength = new DataView(buffer).getUint32(0, false);
  if (4 + headerLength > buffer.byteLength) {
    throw new ProtocolError(`header length ${headerLength} is longer than the message (${buffer.byteLength} bytes)`);
  }
  let header;
  try {
    header = JSON.parse(textDecoder.decode(new Uint8Array(buffer, 4, headerLength)));
  } catch (error) {
    throw new ProtocolError(`header is not UTF-8 JSON: ${error.message}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new ProtocolError('header is not a JSON object');
  }
  return { header, payload: new Uint8Array(buffer, 4 + headerLength) };
}
