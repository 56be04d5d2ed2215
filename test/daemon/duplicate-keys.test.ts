/**
 * Duplicate keys in request bodies (src/daemon/duplicate-keys.ts): the cheap count never misses a
 * repeated key and never sees one that is not there; the slow scan names the first one and where it is.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findDuplicateKey, keyColons } from '../../src/daemon/duplicate-keys.js';
import { DuplicateKeyError } from '../../src/daemon/errors.js';

/** Keys of every object in a parsed value. */
function keys(v: unknown): number {
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + keys(x), 0);
  if (typeof v === 'object' && v !== null) return Object.entries(v).reduce((n, [, x]) => n + 1 + keys(x), 0);
  return 0;
}

const dup = (text: string): DuplicateKeyError | undefined => {
  try {
    findDuplicateKey(text);
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(DuplicateKeyError);
    return e as DuplicateKeyError;
  }
};

describe('keyColons', () => {
  it('counts the keys of any JSON text without duplicates, whatever its strings hold (fixed seed)', () => {
    const str = fc.string({ unit: fc.constantFrom('a', ':', '"', '\\', ' ', '\u00e9', '{', ',', '}') });
    const json = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, str, fc.integer(), fc.constant(null), fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(str, tie('v'), { maxKeys: 4 })),
    })).v;
    fc.assert(
      fc.property(json, fc.boolean(), (v, pretty) => {
        const text = JSON.stringify(v, null, pretty ? 2 : undefined);
        expect(keyColons(text)).toBe(keys(JSON.parse(text)));
        expect(dup(text)).toBeUndefined();
      }),
      { seed: 20261130, numRuns: 3000 },
    );
  });

  it('escaped quotes and backslash runs: a string ends only at an unescaped quote', () => {
    expect(keyColons(String.raw`{"a\":b":1,"c\\":"d:e\\\"f:","g":[":",{"h":2}]}`)).toBe(4);
  });
});

describe('findDuplicateKey', () => {
  it('names the key and its path, compares keys by value, and looks into arrays and nested objects', () => {
    const cases: Array<[string, string, string]> = [
      ['{"action":"hot-detach","action":"hot-attach"}', 'action', 'body.action'],
      ['{"a":1,"\\u0061":2}', 'a', 'body.a'],
      ['{"Endpoints":[{"Idx":0},{"Idx":1,"Idx":2}]}', 'Idx', 'body.Endpoints[1].Idx'],
      ['{"x":{"a b":1,"y":[1,[2,{"k":1}],{"a b":0,"a b":1}]}}', 'a b', 'body.x.y[2]["a b"]'],
      ['{ "s" : "\\"s\\":" , "s" : 1 }', 's', 'body.s'],
    ];
    for (const [text, key, field] of cases) {
      expect(keyColons(text), text).not.toBe(keys(JSON.parse(text)));
      const e = dup(text)!;
      expect([e?.key, e?.field, e?.rule], text).toEqual([key, field, 'unique-keys']);
    }
    // the same key in different objects is no duplicate
    expect(dup('{"a":{"a":1},"b":[{"a":1},{"a":2}]}')).toBeUndefined();
  });
});
