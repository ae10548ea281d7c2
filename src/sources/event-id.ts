/**
 * Event IDs end up in store keys, log lines and (hashed) in CVM's ClientToken. Printable ASCII
 * without spaces and at most 128 characters keeps all three safe and readable; a sender whose own
 * IDs are longer (or not ASCII) gets a digest from its source file, never a truncation that could
 * make two events one.
 */
export const EVENT_ID_MAX_LENGTH = 128;
export const EVENT_ID_RULE = `must be 1 to ${EVENT_ID_MAX_LENGTH} printable ASCII characters without spaces`;

export function isValidEventId(eventId: string): boolean {
  return eventId.length >= 1 && eventId.length <= EVENT_ID_MAX_LENGTH && /^[\x21-\x7e]+$/.test(eventId);
}
