import { MAX_ERROR_DESCRIPTION_LENGTH, describeError } from './describe-error.js';

class PaymentDeclined extends Error {}

describe('describeError', () => {
  it('gives the message of an Error, with its class unless it is plain Error or Object', () => {
    expect(describeError(new Error('boom'))).toBe('boom');
    expect(describeError(new PaymentDeclined('card refused'))).toBe('PaymentDeclined: card refused');
    expect(describeError(new TypeError('x is not a function'))).toBe('TypeError: x is not a function');
  });

  it('gives the text of strings, numbers, symbols, null and undefined', () => {
    expect(describeError('plain text')).toBe('plain text');
    expect(describeError(42)).toBe('42');
    expect(describeError(Symbol('s'))).toBe('Symbol(s)');
    expect(describeError(null)).toBe('null');
    expect(describeError(undefined)).toBe('undefined');
    expect(describeError({ message: 'like an error' })).toBe('like an error');
  });

  it('never throws: an object without prototype, a throwing message getter or toString, a revoked Proxy', () => {
    const messageThrows = {
      get message(): string {
        throw new Error('getter');
      },
      toString(): string {
        throw new Error('toString');
      },
    };
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const hostileProxy = new Proxy(
      {},
      {
        get() {
          throw new Error('trap');
        },
        getPrototypeOf() {
          throw new Error('trap');
        },
      },
    );
    class WeirdName {
      static get name(): string {
        throw new Error('name');
      }
      toString(): never {
        throw new Error('toString');
      }
    }
    for (const value of [Object.create(null), messageThrows, proxy, hostileProxy, new WeirdName()]) {
      expect(typeof describeError(value)).toBe('string');
    }
    expect(describeError(Object.create(null))).toBe('a value that cannot be described');
    expect(describeError(messageThrows)).toBe('a value of class Object that cannot be described');
  });

  it('ignores a spoofed own constructor property when naming the class', () => {
    expect(describeError({ constructor: { name: 'Spoofed' }, message: 'm' })).toBe('m');
  });

  it('cuts long descriptions', () => {
    const text = describeError(new Error('x'.repeat(100_000)));
    expect(text).toHaveLength(MAX_ERROR_DESCRIPTION_LENGTH + 1);
    expect(text.endsWith('…')).toBe(true);
  });
});
