import { describe, expect, it } from 'vitest';
import { DEFAULT_THROTTLE_LIMITS, LoginThrottle } from '../../src/core/server/throttle.js';

/** The login throttle of `knock-env serve`, on an injected clock (milliseconds). */
describe('login throttle', () => {
  it('blocks an address at its fifth failure within a minute, for 60 s, then twice as long if it goes on', () => {
    const throttle = new LoginThrottle();
    let now = 1_000_000;
    for (let i = 1; i < DEFAULT_THROTTLE_LIMITS.limit; i++) expect(throttle.failed('10.0.0.1', `user${i}@example.com`, now)).toBe(0);
    expect(throttle.failed('10.0.0.1', 'user5@example.com', now)).toBe(60);
    expect(throttle.retryAfter('10.0.0.1', now + 59_500)).toBe(1);
    expect(throttle.retryAfter('10.0.0.2', now)).toBe(0);
    now += 60_000;
    expect(throttle.retryAfter('10.0.0.1', now)).toBe(0);
    for (let i = 1; i < 5; i++) throttle.failed('10.0.0.1', `again${i}@example.com`, now);
    expect(throttle.failed('10.0.0.1', 'again5@example.com', now)).toBe(120);
  });

  it('forgets failures older than the window', () => {
    const throttle = new LoginThrottle();
    for (let i = 0; i < 4; i++) throttle.failed('10.0.0.1', `u${i}@example.com`, i * 1000);
    expect(throttle.failed('10.0.0.1', 'u4@example.com', 61_000)).toBe(0);
  });

  it('puts a user name under attack after five failures from any addresses: a wrong password for it blocks the next address at once', () => {
    const throttle = new LoginThrottle();
    for (let i = 1; i <= 5; i++) expect(throttle.failed(`10.0.1.${i}`, 'Ada@Example.com', 0)).toBe(0);
    expect(throttle.failed('10.0.1.6', 'ada@example.com', 1000)).toBe(60);
    // Another user name from a fresh address is not affected.
    expect(throttle.failed('10.0.1.7', 'mo@example.com', 1000)).toBe(0);
    // An address that only tried other user names may still log in (a correct login is never asked here).
    expect(throttle.retryAfter('10.0.1.7', 1000)).toBe(0);
  });

  it('keeps its tables bounded: expired entries go first, then the oldest', () => {
    const throttle = new LoginThrottle({ maxEntries: 100 });
    for (let i = 0; i < 1000; i++) throttle.failed(`10.1.${i >> 8}.${i & 255}`, `u${i}@example.com`, 0);
    expect(throttle.size).toEqual({ clients: 100, users: 100 });
    // A blocked address outlives entries whose time is over, even older ones.
    const limited = new LoginThrottle({ maxEntries: 10, blockMs: 600_000 });
    for (let i = 0; i < 5; i++) limited.failed('10.9.9.9', `x${i}@example.com`, 0);
    for (let i = 0; i < 9; i++) limited.failed(`10.2.0.${i}`, `y${i}@example.com`, 1000);
    for (let i = 0; i < 9; i++) limited.failed(`10.2.1.${i}`, `w${i}@example.com`, 100_000);
    expect(limited.size.clients).toBe(10);
    expect(limited.retryAfter('10.9.9.9', 100_000)).toBe(500);
    const defaults = new LoginThrottle();
    for (let i = 0; i < 12_000; i++) defaults.failed(`10.3.${i >> 8}.${i & 255}`, 'z@example.com', 0);
    expect(defaults.size.clients).toBe(DEFAULT_THROTTLE_LIMITS.maxEntries);
  });
});
