/**
 * Issue 17 item 5: the dashboard's figures fit and read on a 1366×768 desktop
 * and on a 360×740 phone — the per-facility table whole (no heading cut off,
 * no sideways scrolling), each figure with its unit and no false precision
 * ("2.006 hari", not a bare 2006.3), on the phone each row a small card with
 * every figure beside its heading, and the charts' axis labels at a readable
 * size and not on top of each other. Screenshots in
 * test-results/screenshots/console-dashboard-*.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { facilityWithToken, person } from '../helpers/app.ts';
import { browserSkip, launchBrowser, recordDose, screenshot, startServer, type TestServer } from './helpers.ts';
import { consoleAccount, signInConsole } from './console-helpers.ts';

const DESKTOP = { width: 1366, height: 768 };
const PHONE = { width: 360, height: 740 };

describe('the dashboard at 1366×768 and at 360×740', { skip: browserSkip }, () => {
  let server: TestServer;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const errors: string[] = [];

  before(async () => {
    server = await startServer();
    const a = await facilityWithToken(server.db.db, '317101');
    const b = await facilityWithToken(server.db.db, '317102');
    // Doses of 2021 entered now: years between vaccination and entry, as in the 1991.3.
    for (let i = 0; i < 3; i++) await recordDose(server, { facility: a, person: person(), body: { date: '2021-06-10' } });
    await recordDose(server, { facility: b, person: person(), body: { date: '2021-07-01', doseNumber: 2 } });
    const officer = await consoleAccount(server, 'district', { region: '3171' }, 'Dinkes Jakarta Utara');
    browser = await launchBrowser({ viewport: DESKTOP });
    page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    await signInConsole(page, server, officer.username);
  });
  after(async () => {
    await browser?.cleanup();
    await server?.stop();
  });

  /** How the tables and charts lie on the page: overflows, cut headings, cells outside the screen, axis labels. */
  const layout = () =>
    page.evaluate(() => {
      const tables = Array.from(document.querySelectorAll<HTMLTableElement>('[data-testid=per-facility], [data-testid=per-region]')).map((table) => {
        const wrap = table.closest('.op-table-wrap') as HTMLElement;
        // A heading row hidden for screen readers only (the phone's cards) is 1 px wide.
        const visible = (el: Element): boolean => (el.closest('thead') ?? el).getBoundingClientRect().width > 1;
        return {
          id: table.dataset.testid,
          overflow: wrap.scrollWidth - wrap.clientWidth,
          cutHeadings: Array.from(table.querySelectorAll('thead th')).filter((th) => visible(th) && th.scrollWidth > th.clientWidth + 1).map((th) => th.textContent),
          outside: Array.from(table.querySelectorAll('td, th')).filter((c) => visible(c) && c.getBoundingClientRect().right > innerWidth + 0.5).map((c) => c.textContent),
          // Each figure's heading: the visible column heading, or on the phone the label drawn beside the figure.
          unlabelled: Array.from(table.querySelectorAll('tbody td'))
            .filter((td) => {
              const label = getComputedStyle(td, '::before').content;
              const th = table.querySelectorAll('thead th')[(td as HTMLTableCellElement).cellIndex];
              return !(th && visible(th)) && !(label && label !== 'none' && label.length > 2);
            })
            .map((td) => td.textContent),
        };
      });
      const axes = Array.from(document.querySelectorAll('figure.op-chart svg[role=img]')).map((svg) => {
        const box = svg.getBoundingClientRect();
        const labels = Array.from(svg.querySelectorAll('text.op-axis')).map((t) => {
          const r = t.getBoundingClientRect();
          return { text: t.textContent, left: r.left, right: r.right, top: r.top, height: r.height };
        });
        const bottom = labels.filter((l) => l.top > box.top + box.height * 0.8).sort((x, y) => x.left - y.left);
        const overlapping = bottom.filter((l, i) => i > 0 && l.left < bottom[i - 1]!.right);
        return {
          smallest: Math.min(...labels.map((l) => l.height)),
          overlapping: overlapping.map((l) => l.text),
          outside: labels.filter((l) => l.left < box.left - 0.5 || l.right > box.right + 0.5).map((l) => l.text),
          timeLabels: bottom.length,
        };
      });
      return { pageOverflow: document.documentElement.scrollWidth - innerWidth, tables, axes };
    });

  const figures = async (): Promise<{ recorded: string; delay: string }> => {
    const row = page.locator('[data-testid=per-facility] tbody tr').first();
    return { recorded: (await row.locator('[data-col=recorded]').innerText()).trim(), delay: (await row.locator('[data-col=delay]').innerText()).trim() };
  };

  const checkFits = async (name: string): Promise<void> => {
    await page.goto(server.url + '/console/dashboard');
    await page.getByTestId('per-facility').waitFor();
    await page.getByTestId('chart-throughput').waitFor();
    const l = await layout();
    await screenshot(page, `console-dashboard-${name}`);
    assert.ok(l.pageOverflow <= 0, `${name}: the page scrolls sideways by ${l.pageOverflow} px`);
    for (const t of l.tables) {
      assert.ok(t.overflow <= 0, `${name}: ${t.id} is ${t.overflow} px wider than its space`);
      assert.deepEqual(t.cutHeadings, [], `${name}: ${t.id} headings cut off`);
      assert.deepEqual(t.outside, [], `${name}: ${t.id} cells outside the screen`);
      assert.deepEqual(t.unlabelled, [], `${name}: ${t.id} figures without a heading in sight`);
    }
    assert.equal(l.axes.length, 2);
    for (const a of l.axes) {
      assert.ok(a.smallest >= 10, `${name}: axis labels ${a.smallest.toFixed(1)} px high (unreadable)`);
      assert.deepEqual(a.overlapping, [], `${name}: time labels on top of each other`);
      assert.deepEqual(a.outside, [], `${name}: axis labels outside the chart`);
      assert.ok(a.timeLabels >= 2, `${name}: ${a.timeLabels} time labels`);
    }
  };

  it('at 1366×768: the per-facility table whole, figures with units and rounded', async () => {
    await page.setViewportSize(DESKTOP);
    await checkFits('desktop');
    const f = await figures();
    assert.match(f.recorded, /^3 dosis$/);
    // About five years between a 2021 dose and its entry: whole days, with the unit, grouped as Indonesian writes.
    assert.match(f.delay, /^\d\.\d{3} hari$/, f.delay);
  });

  it('at 360×740: each row a card with every figure beside its heading, charts readable', async () => {
    await page.setViewportSize(PHONE);
    await checkFits('phone');
    const f = await figures();
    assert.match(f.delay, /\d\.\d{3} hari$/, f.delay);
  });

  it('in English the units follow the language', async () => {
    await page.setViewportSize(PHONE);
    await page.goto(server.url + '/console/dashboard?lang=en');
    await page.getByTestId('per-facility').waitFor();
    const f = await figures();
    assert.match(f.recorded, /^3 doses$/);
    assert.match(f.delay, /^\d,\d{3} days$/, f.delay);
    assert.deepEqual(errors, []);
  });
});
