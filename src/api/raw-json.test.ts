import { describe, expect, it } from 'vitest';
import { findTopLevelValue } from './raw-json.js';

describe('findTopLevelValue', () => {
  it('returns the exact text of a top-level member, spacing and number forms included', () => {
    const body = '{ "eventType" : "a.b",  "payload" :  {"b": 1.0, "a":[1e3 , "x\\"}"], "z": {"payload": 2}} , "eventId":"e"}';
    expect(findTopLevelValue(body, 'payload')).toBe('{"b": 1.0, "a":[1e3 , "x\\"}"], "z": {"payload": 2}}');
    expect(findTopLevelValue(body, 'eventType')).toBe('"a.b"');
    expect(findTopLevelValue(body, 'eventId')).toBe('"e"');
  });

  it('ignores nested members with the same name and takes the last duplicate, like JSON.parse', () => {
    expect(findTopLevelValue('{"data":{"payload":1},"payload":{"n":1},"payload":{"n":2}}', 'payload')).toBe('{"n":2}');
  });

  it('handles escaped keys, scalars and whitespace of every kind', () => {
    expect(findTopLevelValue('{"pay\\u006coad":\t{"k":"v"}\r\n}', 'payload')).toBe('{"k":"v"}');
    expect(findTopLevelValue('{"a":true,"b":null,"c":-12.5e-3}', 'c')).toBe('-12.5e-3');
    expect(findTopLevelValue('{"a":true,"b":null}', 'b')).toBe('null');
  });

  it('returns undefined when the member is absent or the value is not an object', () => {
    expect(findTopLevelValue('{"a":1}', 'payload')).toBeUndefined();
    expect(findTopLevelValue('[1,2]', 'payload')).toBeUndefined();
    expect(findTopLevelValue('{}', 'payload')).toBeUndefined();
  });

  it('keeps raw unicode and escapes untouched', () => {
    const payload = '{"name":"é\\u00e9\\ud83d\\ude00😀"}';
    expect(findTopLevelValue(`{"payload":${payload}}`, 'payload')).toBe(payload);
  });
});
