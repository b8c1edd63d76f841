// Open every dashboard page in headless Chromium and check that it rendered: each chart of the page's
// Markdown drew an ECharts canvas, each table has rows, and the page raised no error. Saves a
// full-page screenshot per page. Prints one JSON report; exits 1 when a page failed.
//   node scripts/check-pages.mjs BASE_URL SCREENSHOT_DIR
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const [baseUrl, screenshotDir] = process.argv.slice(2);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const CHARTS = /<(BarChart|LineChart|AreaChart|ScatterPlot|BubbleChart|Histogram|BoxPlot|Heatmap|FunnelChart|CalendarHeatmap|SankeyDiagram)\b/g;
const FAILURE_TEXT = ['Dataset is empty', 'No Records', 'Error in ', 'Catalog Error', 'Binder Error', 'Parser Error'];

function pages(dir) {
	return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
		const path = join(dir, entry.name);
		if (entry.isDirectory()) return pages(path);
		return entry.name.endsWith('.md') ? [path] : [];
	});
}

const browser = await chromium.launch({
	executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
	headless: true,
	chromiumSandbox: false,
	args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking']
});
mkdirSync(screenshotDir, { recursive: true });
const report = [];

async function firstLink(prefix) {
	const page = await browser.newPage();
	try {
		await page.goto(baseUrl + prefix.replace(/\/$/, ''), { waitUntil: 'networkidle', timeout: 60000 });
		const href = await page.getAttribute(`a[href^="${prefix}"]`, 'href', { timeout: 30000 });
		return decodeURI(href);
	} finally {
		await page.close();
	}
}
try {
	for (const file of pages(join(root, 'pages')).sort()) {
		const markdown = readFileSync(file, 'utf8');
		const template = '/' + relative(join(root, 'pages'), file).replace(/\.md$/, '').replace(/(^|\/)index$/, '');
		// a templated page (signals/[team].md) is checked at the first instance its parent page links to
		const route = template.includes('[') ? await firstLink(template.slice(0, template.indexOf('['))) : template;
		const expected = {
			// likewise a chart that may be empty (emptySet=pass) is not required to draw
			charts: (markdown.match(CHARTS) || []).length -
				(markdown.match(/<(?:BarChart|LineChart|AreaChart)\b[^>]*emptySet=pass/g) || []).length,
			// a table that may be empty for some inputs (emptySet=pass) is not required to have rows
			tables: (markdown.match(/<DataTable\b(?![^>]*emptySet=pass)/g) || []).length,
			values: (markdown.match(/<BigValue\b/g) || []).length
		};
		const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
		const errors = [];
		page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
		page.on('console', (message) => {
			if (message.type() === 'error') errors.push(`console error: ${message.text()}`);
		});
		page.on('requestfailed', (request) => {
			const reason = request.failure()?.errorText ?? '';
			// Evidence cancels the fetch of a prerendered result once the browser's DuckDB has answered.
			if (request.url().startsWith(baseUrl) && !reason.includes('ERR_ABORTED'))
				errors.push(`request failed: ${request.url()} ${reason}`);
		});
		const response = await page.goto(baseUrl + route, { waitUntil: 'networkidle', timeout: 60000 });
		if (!response || !response.ok()) errors.push(`HTTP ${response ? response.status() : 'no response'}`);
		// Charts draw after the browser's DuckDB has run their queries.
		await page
			.waitForFunction(
				(n) => document.querySelectorAll('.chart[_echarts_instance_] canvas').length >= n,
				expected.charts,
				{ timeout: 60000 }
			)
			.catch(() => null);
		await page.waitForTimeout(500);
		const found = await page.evaluate(() => ({
			charts: [...document.querySelectorAll('.chart[_echarts_instance_]')].filter((chart) => {
				const canvas = chart.querySelector('canvas');
				return canvas && canvas.width > 0 && canvas.height > 0;
			}).length,
			tables: [...document.querySelectorAll('table')].filter((t) => t.querySelector('tr td')).length,
			// a table wider than its box is cut (scrolled) at this viewport
			overflowingTables: [...document.querySelectorAll('table')].filter(
				(t) => t.scrollWidth > t.parentElement.clientWidth + 1 || t.getBoundingClientRect().right > window.innerWidth
			).length,
			links: [...document.querySelectorAll('a[href]')].map((a) => a.getAttribute('href')),
			text: document.body.innerText
		}));
		for (const phrase of FAILURE_TEXT) {
			if (found.text.includes(phrase)) errors.push(`page shows '${phrase}'`);
		}
		if (found.charts < expected.charts) errors.push(`${found.charts} of ${expected.charts} charts rendered`);
		if (found.tables < expected.tables) errors.push(`${found.tables} of ${expected.tables} tables have rows`);
		const screenshot = join(screenshotDir, (route === '/' ? 'index' : route.slice(1).replaceAll('/', '_')) + '.png');
		await page.screenshot({ path: screenshot, fullPage: true });
		report.push({
			route,
			expected,
			charts: found.charts,
			tables: found.tables,
			overflowing_tables: found.overflowingTables,
			links: [...new Set(found.links)],
			text: found.text.slice(0, 3000),
			screenshot,
			errors
		});
		await page.close();
	}
} finally {
	await browser.close();
}
console.log(JSON.stringify(report, null, 2));
process.exit(report.every((page) => page.errors.length === 0) ? 0 : 1);
