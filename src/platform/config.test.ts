import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';

describe('configuration', () => {
  it('fills defaults, generates development secrets, and freezes the result', () => {
    const config = loadConfig({});
    expect(config.port).toBe(8000);
    expect(config.host).toBe('127.0.0.1');
    expect(Buffer.byteLength(config.jwtSecret)).toBeGreaterThanOrEqual(32);
    expect(config.adminPasswordGenerated).toBe(true);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('converts numbers from the environment and keeps a given admin password', () => {
    const config = loadConfig({ PORT: '9100', ADMIN_PASSWORD: 'a-long-password' });
    expect(config.port).toBe(9100);
    expect(config.adminPassword).toBe('a-long-password');
    expect(config.adminPasswordGenerated).toBe(false);
  });

  it('refuses a JWT secret shorter than 32 bytes and names the variable', () => {
    expect(() => loadConfig({ JWT_SECRET: 'short' })).toThrow(/JWT_SECRET/);
  });

  it('refuses values of the wrong type and names each variable', () => {
    expect(() => loadConfig({ PORT: 'eighty', RATE_LIMIT_MAX: '0' })).toThrow(
      /PORT[\s\S]*RATE_LIMIT_MAX|RATE_LIMIT_MAX[\s\S]*PORT/,
    );
  });
});
