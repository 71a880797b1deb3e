/**
 * The script inside report.html. It runs in the browser, not in Node: report-html.ts embeds its source
 * (`reportClient.toString()`), so it must stay one self-contained function that uses nothing from this
 * module's scope. Written in TypeScript so that the compiler checks it like the rest.
 *
 * Every piece of article text reaches the page through textContent or createTextNode, never as markup: an
 * article holding `<script>` shows it as text. The page's Content-Security-Policy only runs this script (by
 * its hash) and allows no fetch of any kind, as a second line of defence.
 */

/** One row of the story list (report-html.ts, ReportPage). */
export interface StoryRow {
  id: string;
  size: number;
  title: string;
  /** Over the story's verified pairs; null for a story of one article. */
  min: number | null;
  max: number | null;
  mean: number | null;
  /** Whether the story's articles are embedded (views), within the report's caps. */
  view: boolean;
}

export interface MemberView {
  id: string;
  title: string;
  /** Shared spans of the title, as `marks` are of the text. */
  titleMarks: number[];
  source: string;
  published: string;
  url: string;
  /** To the representative (null for the representative itself). */
  similarity: number | null;
  /** Indexed in an earlier night (nightly runs): not one of tonight's articles. */
  indexed: boolean;
  text: string;
  /** The text was cut to the report's cap. */
  cut: boolean;
  /** Shared spans, three numbers each: start, end (UTF-16 units of `text`), kind (1 passage, 0 word). */
  marks: number[];
}

export interface StoryView {
  /** The representative first, then the others in input order, up to the report's cap. */
  members: MemberView[];
  /** Members left out by the cap. */
  notShown: number;
}

export interface ReportPage {
  stories: StoryRow[];
  views: Record<string, StoryView>;
  measure: string;
  /** Members beside the representative on one page of a story's view. */
  membersPerPage: number;
  /** Rows per page of the story list. */
  rowsPerPage: number;
}

export function reportClient(): void {
  const data = JSON.parse(document.getElementById('report-data')!.textContent!) as ReportPage;
  const byId = new Map(data.stories.map((story) => [story.id, story]));
  const filterBox = document.getElementById('filter') as HTMLInputElement;
  const minSizeBox = document.getElementById('min-size') as HTMLSelectElement;
  const tableBody = document.querySelector('#stories tbody') as HTMLTableSectionElement;
  const headers = Array.from(document.querySelectorAll<HTMLTableCellElement>('#stories th[data-key]'));
  const listStatus = document.getElementById('list-status')!;
  const pager = document.getElementById('list-pager')!;
  const view = document.getElementById('view')!;

  type Key = 'id' | 'size' | 'title' | 'min' | 'max' | 'mean';
  let sortKey: Key = 'size';
  let descending = true;
  let page = 0;

  const el = <K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const figure = (x: number | null) => (x === null ? '' : x.toFixed(3));
  const range = (story: StoryRow) => (story.min === null ? '' : story.min === story.max ? figure(story.min) : `${figure(story.min)} – ${figure(story.max)}`);

  function matching(): StoryRow[] {
    const needle = filterBox.value.trim().toLowerCase();
    const minSize = Number(minSizeBox.value);
    const rows = data.stories.filter((s) => s.size >= minSize && (needle === '' || s.title.toLowerCase().includes(needle) || s.id.toLowerCase().includes(needle)));
    const sign = descending ? -1 : 1;
    // Ties keep the list's own order (largest first, then earliest founder): Array.prototype.sort is stable.
    rows.sort((a, b) => {
      const x = a[sortKey];
      const y = b[sortKey];
      if (x === y) return 0;
      if (x === null) return 1;
      if (y === null) return -1;
      return (x < y ? -1 : 1) * sign;
    });
    return rows;
  }

  /** Previous and next buttons around `label` into `into`, when there is more than one page. */
  function drawPager(into: HTMLElement, current: number, pages: number, label: string, go: (page: number) => void): void {
    into.replaceChildren();
    if (pages <= 1) return;
    const previous = el('button', undefined, '‹ previous');
    previous.disabled = current === 0;
    previous.addEventListener('click', () => go(current - 1));
    const next = el('button', undefined, 'next ›');
    next.disabled = current === pages - 1;
    next.addEventListener('click', () => go(current + 1));
    into.append(previous, el('span', undefined, label), next);
  }

  function renderList(): void {
    const rows = matching();
    const pages = Math.max(1, Math.ceil(rows.length / data.rowsPerPage));
    page = Math.min(page, pages - 1);
    tableBody.replaceChildren();
    for (const story of rows.slice(page * data.rowsPerPage, (page + 1) * data.rowsPerPage)) {
      const row = el('tr');
      row.dataset.id = story.id;
      row.tabIndex = 0;
      const link = el('a', undefined, story.title === '' ? '(no title)' : story.title);
      link.href = `#story=${encodeURIComponent(story.id)}`;
      const titleCell = el('td', 'title');
      titleCell.append(link);
      row.append(el('td', 'num', String(story.size)), titleCell, el('td', 'num', range(story)), el('td', 'num', figure(story.mean)), el('td', 'id', story.id));
      row.addEventListener('click', (event) => {
        if ((event.target as HTMLElement).tagName !== 'A') location.hash = link.hash;
      });
      tableBody.append(row);
    }
    listStatus.textContent =
      rows.length === 0 ? 'No story matches.' : `${rows.length.toLocaleString('en-US')} of ${data.stories.length.toLocaleString('en-US')} listed stories match.`;
    drawPager(pager, page, pages, ` page ${page + 1} of ${pages} `, (to) => ((page = to), renderList()));
    for (const header of headers) {
      header.setAttribute('aria-sort', header.dataset.key === sortKey ? (descending ? 'descending' : 'ascending') : 'none');
    }
  }

  /** `text` into `into`, the spans of `marks` (start, end, kind triples) as <mark> elements. */
  function marked<T extends HTMLElement>(into: T, text: string, marks: number[]): T {
    let at = 0;
    for (let m = 0; m < marks.length; m += 3) {
      const [start, end, kind] = [marks[m], marks[m + 1], marks[m + 2]];
      if (start > at) into.append(document.createTextNode(text.slice(at, start)));
      into.append(el('mark', kind === 1 ? 'passage' : 'word', text.slice(start, end)));
      at = end;
    }
    into.append(document.createTextNode(text.slice(at)));
    return into;
  }

  function memberColumn(member: MemberView, isRepresentative: boolean): HTMLElement {
    const column = el('article', isRepresentative ? 'member representative' : 'member');
    column.dataset.id = member.id;
    column.append(marked(el('h3'), member.title === '' ? '(no title)' : member.title, member.titleMarks));
    const meta = el('p', 'meta');
    meta.append(el('span', 'doc-id', member.id));
    if (member.source !== '') meta.append(` · ${member.source}`);
    if (member.published !== '') meta.append(` · ${member.published}`);
    if (member.indexed) meta.append(el('span', 'badge', 'from the index'));
    if (/^https?:\/\//i.test(member.url)) {
      const link = el('a', undefined, 'original');
      link.href = member.url;
      link.rel = 'noopener noreferrer';
      link.target = '_blank';
      meta.append(' · ', link);
    }
    column.append(meta);
    column.append(
      el('p', 'similarity', isRepresentative ? 'representative' : `similarity to the representative: ${figure(member.similarity)} (${data.measure})`),
    );
    const body = marked(el('div', 'text'), member.text, member.marks);
    if (member.cut) body.append(el('span', 'cut', ' … (cut for the report)'));
    column.append(body);
    return column;
  }

  function renderView(): void {
    const match = /^#story=(.*)$/.exec(location.hash);
    const id = match ? decodeURIComponent(match[1]) : undefined;
    const story = id === undefined ? undefined : byId.get(id);
    view.replaceChildren();
    view.hidden = story === undefined;
    if (story === undefined) return;
    const close = el('a', 'close', '× close');
    close.href = '#';
    view.append(close, el('h2', undefined, story.title === '' ? '(no title)' : story.title));
    const facts = `${story.size} article${story.size === 1 ? '' : 's'} · story ${story.id}` + (story.min === null ? '' : ` · similarity ${range(story)}`);
    view.append(el('p', 'meta', facts));
    const detail = data.views[story.id];
    if (!detail) {
      view.append(el('p', 'note', 'The texts of this story are not embedded: the report keeps the largest stories within its size cap. clusters.csv and documents.csv list every article.'));
      view.scrollIntoView();
      return;
    }
    const [representative, ...others] = detail.members;
    const pages = Math.max(1, Math.ceil(others.length / data.membersPerPage));
    let memberPage = 0;
    const columns = el('div', 'members');
    const memberPager = el('div', 'pager');
    const drawMembers = () => {
      columns.replaceChildren(memberColumn(representative, true));
      for (const member of others.slice(memberPage * data.membersPerPage, (memberPage + 1) * data.membersPerPage)) columns.append(memberColumn(member, false));
      const first = memberPage * data.membersPerPage + 2;
      const last = Math.min(others.length + 1, first + data.membersPerPage - 1);
      const label = ` articles ${first}–${last} of ${others.length + 1} beside the representative `;
      drawPager(memberPager, memberPage, pages, label, (to) => ((memberPage = to), drawMembers()));
    };
    drawMembers();
    view.append(memberPager, columns);
    if (detail.notShown > 0) view.append(el('p', 'note', `${detail.notShown} more article${detail.notShown === 1 ? ' is' : 's are'} in this story but not embedded (report cap); clusters.csv lists them.`));
    view.scrollIntoView();
  }

  filterBox.addEventListener('input', () => ((page = 0), renderList()));
  minSizeBox.addEventListener('change', () => ((page = 0), renderList()));
  for (const header of headers) {
    header.addEventListener('click', () => {
      const key = header.dataset.key as Key;
      descending = key === sortKey ? !descending : key !== 'title' && key !== 'id';
      sortKey = key;
      renderList();
    });
  }
  window.addEventListener('hashchange', renderView);
  renderList();
  renderView();
  document.body.dataset.ready = 'true';
}
