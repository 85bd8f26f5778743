import { describe, expect, it } from 'vitest';
import { Scrubber } from '../../src/core/run/mask.js';

describe('scrubbing recipient values from output', () => {
  it('removes whole values and words, never parts of other words', () => {
    const scrub = new Scrubber({ id: 'user-42', name: 'Mina Okafor', email: 'mina@example.com', channel: 'sms' });
    const out = scrub.text('Hi Mina Okafor (mina@example.com): terminated; sms_1 sends an sms message to user-42');
    expect(out).not.toContain('Mina');
    expect(out).not.toContain('Okafor');
    expect(out).not.toContain('mina@example.com');
    // Ordinary words that merely contain a value survive, and so do identifiers and short values.
    expect(out).toContain('terminated');
    expect(out).toContain('sms_1 sends an sms message');
    expect(out).toContain('user-42');
  });
});
