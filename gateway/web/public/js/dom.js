// A tiny element builder: text always goes in as text nodes (no innerHTML, so API data cannot inject markup;
// the one exception is the tips service's sanitised tip bodies, see pages/tips.js), attributes as properties or attributes, `on*` functions as listeners.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

let fieldSeq = 0;

/** A labelled form field (label bound by id, hint bound by aria-describedby). */
export function field(label, input, hint) {
  const id = input.id || `f${++fieldSeq}`;
  input.id = id;
  const parts = [h('label', { for: id }, label), input];
  if (hint) {
    const hid = `${id}-hint`;
    input.setAttribute('aria-describedby', hid);
    parts.push(h('small', { id: hid, class: 'hint' }, hint));
  }
  return h('div', { class: 'field' }, parts);
}

export function card(title, ...children) {
  return h('section', { class: 'card' }, title ? h('h2', {}, title) : null, ...children);
}

/** A live region for form errors and notices (screen readers announce it). */
export function alertBox() {
  return h('p', { class: 'alert', role: 'alert', hidden: true });
}

export function showAlert(box, text, kind = 'error') {
  box.textContent = text;
  box.className = `alert ${kind}`;
  box.hidden = !text;
}
