/**
 * The official RealWorld browser suite against Conduit: bin/e2e.py (make e2e) copies REALWORLD_DIR/e2e,
 * unchanged, to ./.suite, starts the servers and sets the variables read here. Not meant to be run alone.
 *
 * The suite mocks the browser's API calls on https://api.realworld.show/api. Conduit's UI calls its API on
 * its own origin (/api), so the UI is served at that origin: Chromium maps the name to a local TLS nginx
 * (--host-resolver-rules; every other name fails to resolve) that passes each request to the server under
 * test, and accepts that nginx's throwaway certificate by its key alone (--ignore-certificate-errors-spki-list).
 */
import { defineConfig, devices } from '@playwright/test';
import { baseConfig } from './.suite/playwright.base';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the suite with bin/e2e.py (make e2e)`);
  return value;
}

const output = required('E2E_OUTPUT');

export default defineConfig({
  ...baseConfig,
  testDir: './.suite',
  outputDir: `${output}/results`,
  // health.spec.ts "API should be accessible" calls the public demo API from the test runner: it needs the
  // internet, which this machine has not. bin/e2e.py reports it as excluded.
  grepInvert: /API should be accessible/,
  reporter: [['list'], ['json', { outputFile: `${output}/report.json` }]],
  use: {
    ...baseConfig.use,
    baseURL: required('E2E_BASE_URL'),
    // E2E_TRACE=retain-on-failure keeps a trace of every failed attempt (the suite's default: on-first-retry)
    trace: (process.env.E2E_TRACE as 'on' | 'retain-on-failure' | undefined) ?? baseConfig.use?.trace,
  },
  projects: [
    {
      name: 'chromium',
      use: {
        ...devices['Desktop Chrome'],
        launchOptions: {
          executablePath: process.env.E2E_CHROMIUM || '/usr/bin/chromium',
          args: [
            '--no-sandbox',
            '--disable-gpu',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--no-first-run',
            `--host-resolver-rules=${required('E2E_HOST_RULES')}`,
            `--ignore-certificate-errors-spki-list=${required('E2E_SPKI')}`,
          ],
        },
      },
    },
  ],
});
