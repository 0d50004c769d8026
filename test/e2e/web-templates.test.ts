// The web app's job-template form in Chromium, on a real farm: a template file picked, a form made
// from its parameterDefinitions (dropdown, spin box, check box, a folder for an IN parameter),
// a bad value refused in the page, the job submitted and its steps followed to the end.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { type Farm, startFarm } from '../helpers/farm.js';
import { buildWebApp, DESKTOP, launchChromium, layoutProblems, PHONE, SHOTS, signIn } from '../helpers/browser.js';

const TEMPLATE = `specificationVersion: jobtemplate-2023-09
name: "Greet {{Param.Count}}"
description: Greets from a folder of names, then joins the greetings.
parameterDefinitions:
  - name: Count
    type: INT
    default: 2
    minValue: 1
    maxValue: 5
    userInterface: {control: SPIN_BOX, label: How many, groupLabel: Shape}
  - name: Word
    type: STRING
    default: hello
    allowedValues: [hello, howdy]
    userInterface: {control: DROPDOWN_LIST, label: Greeting, groupLabel: Shape}
  - name: Shout
    type: STRING
    default: "no"
    allowedValues: ["yes", "no"]
    userInterface: {control: CHECK_BOX, label: Shout it}
  - name: Names
    type: PATH
    objectType: DIRECTORY
    dataFlow: IN
    userInterface: {control: CHOOSE_DIRECTORY, label: Names folder}
  - name: Out
    type: PATH
    objectType: DIRECTORY
    dataFlow: OUT
    default: out
    userInterface: {control: HIDDEN}
steps:
  - name: Greet
    parameterSpace:
      taskParameterDefinitions: [{name: N, type: INT, range: "1-{{Param.Count}}"}]
    script:
      actions:
        onRun: {command: bash, args: ["-c", "w={{Param.Word}}; [ {{Param.Shout}} = yes ] && w=\${w^^}; echo $w $(cat {{Param.Names}}/n.txt) {{Task.Param.N}} > {{Param.Out}}/g{{Task.Param.N}}.txt"]}
  - name: Join
    dependencies: [{dependsOn: Greet}]
    script:
      actions:
        onRun: {command: bash, args: ["-c", "cat {{Param.Out}}/g*.txt"]}
`;

/** The page at 1440×900 and on a 390×844 phone: nothing sticks out, no text or image is cut. */
async function checkLayout(page: Page, name: string): Promise<void> {
  const before = page.viewportSize();
  for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: join(SHOTS, `${name}-${size}.png`), fullPage: true });
    assert.deepEqual(await layoutProblems(page), [], `layout of ${name} (${size})`);
  }
  if (before) await page.setViewportSize(before);
}

let farm: Farm;
let browser: Browser;
before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  buildWebApp();
  farm = await startFarm({ agents: 1 });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await farm?.stop();
});

test('a job template submitted from the web form runs its steps to the end', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'drover-web-tpl-'));
  writeFileSync(join(dir, 'greet.yaml'), TEMPLATE);
  mkdirSync(join(dir, 'names'));
  writeFileSync(join(dir, 'names', 'n.txt'), 'world');
  const context = await browser.newContext({ viewport: { width: 1366, height: 860 } });
  const page = await context.newPage();
  // The machine running the suite runs other browsers and Blender at the same time: waits here
  // are for a busy machine, not a measure of speed.
  page.setDefaultTimeout(90_000);
  // The checker is a chunk of its own, loaded when the form opens: it must arrive as a script.
  const chunks: string[] = [];
  page.on('response', (r) => {
    if (/template-document-[^/]*\.js$/.test(r.url())) chunks.push(`${r.status()} ${r.headers()['content-type']}`);
  });
  await signIn(page, farm.url, 'admin', farm.adminPassword);
  await page.goto(`${farm.url}/#/jobs/new?kind=template`);
  await page.getByTestId('new-template-form').waitFor();
  await page.getByTestId('template-input').setInputFiles(join(dir, 'greet.yaml'));
  await page.getByTestId('template-summary').waitFor();
  assert.deepEqual(chunks.map((c) => c.replace(/;.*/, '')), ['200 application/javascript']);
  assert.match(await page.getByTestId('template-summary').innerText(), /Greets from a folder of names/);
  // The form follows the userInterface hints: a spin box with the bounds, a dropdown, a check box,
  // a folder picker; the HIDDEN parameter is not shown.
  assert.equal(await page.getByTestId('param-Count').getAttribute('type'), 'number');
  assert.equal(await page.getByTestId('param-Count').getAttribute('max'), '5');
  assert.equal(await page.locator('select[name="Word"] option').count(), 2);
  assert.equal(await page.getByTestId('param-Shout').getAttribute('type'), 'checkbox');
  assert.equal(await page.getByTestId('param-Out').count(), 0);
  assert.match(await page.locator('fieldset legend').first().innerText(), /Shape/);

  // A value outside its bounds is refused in the page, with the reason.
  await page.getByTestId('param-Count').fill('9');
  assert.match(await page.getByTestId('template-preview').innerText(), /Count: 9 is above the maximum 5/);
  await page.getByTestId('submit-template').click();
  await page.getByRole('alert').first().waitFor();
  assert.match(await page.getByRole('alert').first().innerText(), /above the maximum 5|Names folder/);

  await page.getByTestId('param-Count').fill('3');
  await page.getByTestId('param-Word').selectOption('howdy');
  await page.getByTestId('param-Shout').check();
  await page.getByTestId('param-Names').setInputFiles(join(dir, 'names'));
  assert.match(await page.getByTestId('template-preview').innerText(), /“Greet 3”: 4 tasks in Greet \(3\), Join \(1, after Greet\)/);
  await page.screenshot({ path: join(SHOTS, 'new-template-job.png') });
  await checkLayout(page, 'new-template-job');
  await page.getByTestId('submit-template').click();
  await page.getByTestId('steps-panel').waitFor({ timeout: 60_000 });
  await page.waitForFunction(() => /^Join\s+done/i.test((document.querySelector('[data-testid="step-1"]') as HTMLElement | null)?.innerText ?? ''), undefined, { timeout: 120_000 });
  assert.match(await page.getByTestId('step-0').innerText(), /Greet\s+done\s+3\/3 done/i);
  assert.match(await page.getByTestId('step-1').innerText(), /Join\s+done\s+1\/1 done\s+Greet/i);
  await page.screenshot({ path: join(SHOTS, 'template-job.png') });
  await checkLayout(page, 'template-job');

  const id = decodeURIComponent(new URL(page.url()).hash.split('/')[2]!.split('?')[0]!);
  const logs = await farm.cli(['job', 'logs', id, '--task', '4']);
  assert.match(logs.stdout, /HOWDY world 1\nHOWDY world 2\nHOWDY world 3/);
  await context.close();
});
