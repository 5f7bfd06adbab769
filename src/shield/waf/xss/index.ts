/**
 * Cross-site-scripting detector (issue 5, point 3), libinjection's html5 method: read the input
 * with an HTML tokenizer (html-tokenizer.ts) in several start states (data, and inside an
 * attribute value unquoted / single / double / back-quoted, since an injection often closes the
 * value it lands in) and flag what executes script: dangerous elements, event-handler attributes,
 * scripting URLs in URL attributes (after entity decoding and whitespace stripping), CSS
 * expression()/-moz-binding, comment and CDATA tricks, and any element tag with an attribute
 * assignment. The fingerprint names what was found: "tag:script", "attr:onerror",
 * "url:javascript", "css:expression", "comment", "cdata", "tag:div+attr".
 *
 * Ordinary text stays clean: "a < b", "x<3", "<joe@x.org>" are not tags (a tag name starts with a
 * letter and an element with no attribute assignment is only flagged when dangerous), and the
 * attribute states only flag real event names followed by '='.
 */
import type { DetectorResult } from '../types.ts';
import { htmlEvents, type StartState } from './html-tokenizer.ts';
import { scriptScheme } from './url.ts';

/** Elements that run or load script or restyle the page by themselves (libinjection's list and OWASP's). */
const DANGEROUS_TAGS = new Set(['script', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'svg', 'math',
  'style', 'base', 'link', 'meta', 'xml', 'xss', 'import', 'isindex', 'noscript', 'vmlframe', 'handler', 'listener',
  'template', 'portal', 'xsl', 'xmp', 'plaintext', 'set', 'animate', 'foreignobject', 'comment']);
/** Attributes whose value is fetched or navigated to as a URL. */
const URL_ATTRS = new Set(['href', 'src', 'action', 'formaction', 'xlink:href', 'data', 'background', 'poster',
  'dynsrc', 'lowsrc', 'codebase', 'srcset', 'code', 'archive', 'ping', 'cite', 'longdesc', 'usemap', 'manifest',
  'icon', 'from', 'to', 'values', 'by', 'folder', 'xmlns', 'xml:base', 'content', 'srcdoc']);

/** DOM event-handler attribute names (HTML §8.1.8.2 and the SVG/legacy ones payload lists use). */
const EVENTS = new Set(`abort activate afterprint afterscriptexecute animationcancel animationend animationiteration
  animationstart auxclick beforecopy beforecut beforeinput beforepaste beforeprint beforescriptexecute
  beforetoggle beforeunload begin blur bounce cancel canplay canplaythrough change click close contentvisibilityautostatechange contextmenu
  copy cuechange cut dblclick drag dragend dragenter dragexit dragleave dragover dragstart drop durationchange
  emptied end ended error finish focus focusin focusout formdata fullscreenchange gesturechange hashchange input invalid
  keydown keypress keyup load loadeddata loadedmetadata loadend loadstart message mousedown mouseenter
  mouseleave mousemove mouseout mouseover mouseup mousewheel move offline online pagehide pageshow paste pause play
  playing pointercancel pointerdown pointerenter pointerleave pointermove pointerout pointerover pointerrawupdate
  pointerup popstate progress propertychange ratechange readystatechange repeat reset resize scroll scrollend search
  securitypolicyviolation seeked seeking select selectionchange selectstart show sort stalled start storage submit
  suspend timeupdate toggle touchend touchmove touchstart transitioncancel transitionend transitionrun
  transitionstart unhandledrejection unload volumechange waiting webkitanimationend webkitanimationiteration
  webkitanimationstart webkittransitionend wheel zoom filterchange help losecapture rowenter rowexit datasetchanged
  errorupdate layoutcomplete`.trim().split(/\s+/).map((e) => `on${e}`));

const CSS_TRICK = /expression\s*\(|-moz-binding|behavior\s*:|javascript\s*:|@import|url\s*\(\s*['"]?\s*(?:javascript|vbscript|data)/i;
/** A CSS declaration whose value is an IE expression() or a Mozilla XBL binding, outside a style attribute. */
const CSS_DECL = /[a-z-]\s*:\s*expression\s*\(|-moz-binding\s*:/i;
/** A syntactically plausible element name (rules out "<joe@x.org>", "<3", "<-"). */
const ELEMENT_NAME = /^[a-z][a-z0-9-]*(?::[a-z][a-z0-9-]*)?$/;
/** A value that may start with a URL scheme after entity decoding and whitespace stripping. */
// eslint-disable-next-line no-control-regex
const SCHEME_START = /^[\u0000-\u0020\u00a0]*(?:[jvlmd]|&)/i;
/**
 * Gate for the attribute start states: only an event-handler, URL or style attribute assignment
 * can be flagged there.
 */
// eslint-disable-next-line no-control-regex
const ATTR_GATE = /(?:on[a-z]{2,32}|href|src|action|data|background|poster|lowsrc|dynsrc|codebase|srcset|code|archive|ping|cite|longdesc|usemap|manifest|icon|from|to|values|by|folder|xmlns|base|content|srcdoc|style)[\u0000-\u0020]*=/i;
/**
 * Breaking out of a JavaScript string literal into a call: `';alert(1);//`, `"-prompt(1)-"`,
 * `\";eval(atob('...'));//`, `';(alert)(1)`, `';alert\`1\``. A quote, a statement or expression
 * separator, then a (possibly dotted or parenthesised) name called with '(' or a template.
 */
const JS_QUICK = /^\s*\\*['"`]/;
const JS_BREAKOUT = /^\s*\\*['"`]\s*(?:(?:[;,+\-*|&)]\s*)+\(?\s*[a-z_$][\w$.]*(?:\[[^\]]*\])?\s*\)?\s*[(`]|;\s*[a-z_$][\w$.]*\s*=[^;]+;.*\/\/\s*$)/i;
const LATE_TAG = /<(script|iframe|svg|object|embed|math|base|meta|style)[\s/>]/i;
/** Bound on the input length scanned in the attribute states (the data state has its own bound). */
const MAX_SCAN = 64 * 1024;

function checkEvents(s: string, start: StartState): string | null {
  const fromData = start === 'data';
  let lastTag = '';
  let tagHasAssign = false;
  let tagOk = false;
  for (const ev of htmlEvents(s, start)) {
    switch (ev.kind) {
      case 'tag':
        if (lastTag !== '' && tagHasAssign && tagOk) return `tag:${lastTag}+attr`;
        lastTag = ev.name;
        tagHasAssign = false;
        tagOk = ELEMENT_NAME.test(ev.name) && ev.closed;
        if (DANGEROUS_TAGS.has(ev.name) || ev.name.startsWith('svg') || ev.name.startsWith('xsl')) {
          if (ev.name === 'set' || ev.name === 'comment' || ev.name === 'template') {
            if (ev.closed) return `tag:${ev.name}`;
          } else {
            return `tag:${ev.name}`;
          }
        }
        break;
      case 'attr': {
        const name = ev.name;
        if (ev.hasValue && EVENTS.has(name)) return `attr:${name}`;
        if (fromData && ev.hasValue && name.length > 2 && name.startsWith('on') && ELEMENT_NAME.test(ev.tag)) return `attr:${name}`;
        if (ev.hasValue && URL_ATTRS.has(name)) {
          const sc = scriptScheme(ev.value);
          if (sc !== null) return `url:${sc}`;
        }
        if (ev.hasValue && name === 'style' && CSS_TRICK.test(ev.value)) return 'css:expression';
        if (ev.tag === 'form' && name === 'action') return 'tag:form';
        if (ev.hasValue && (ev.quoted || ev.value.length > 0)) tagHasAssign = true;
        break;
      }
      case 'tag-end':
        if (lastTag !== '' && tagHasAssign && tagOk) return `tag:${lastTag}+attr`;
        if (DANGEROUS_TAGS.has(ev.name)) return `tag:${ev.name}`;
        lastTag = '';
        break;
      case 'comment':
        // Conditional comments, comments hiding markup, and IE's back-tick tricks.
        if (/\[if|<[a-z!]|`|<\/|import|xml/i.test(ev.text)) return 'comment';
        break;
      case 'cdata':
        return 'cdata';
      case 'doctype':
        if (/^\s*(?:entity|element|attlist|import)/i.test(ev.text)) return 'doctype';
        break;
    }
  }
  if (lastTag !== '' && tagHasAssign && tagOk) return `tag:${lastTag}+attr`;
  return null;
}

export function detectXss(input: string): DetectorResult {
  if (JS_QUICK.test(input) && JS_BREAKOUT.test(input)) return { detected: true, fingerprint: 'js:breakout' };
  const hasLt = input.includes('<');
  const hasEq = input.includes('=');
  const hasColon = input.includes(':');
  if (!hasLt && !hasEq && !hasColon) return { detected: false };
  const s = input.length > MAX_SCAN ? input.slice(0, MAX_SCAN) : input;

  if (hasColon && SCHEME_START.test(s)) {
    // The whole input used as a URL attribute value (href="<input>"): a scripting scheme with
    // code after it. "JavaScript: The Good Parts" names the scheme but runs nothing.
    const sc = scriptScheme(s);
    if (sc !== null && (sc !== 'javascript' || /[(`=&%\\[;'"]/.test(s))) return { detected: true, fingerprint: `url:${sc}` };
  }
  if (hasColon && CSS_DECL.test(s)) return { detected: true, fingerprint: 'css:expression' };
  if (hasLt) {
    const f = checkEvents(s, 'data');
    if (f !== null) return { detected: true, fingerprint: f };
    // Past the tokenizer's bounds (long inputs padded with harmless markup), a linear scan
    // for the openings that matter most still runs over the whole input.
    if (input.length > 4096) {
      const m = LATE_TAG.exec(input);
      if (m !== null) return { detected: true, fingerprint: `tag:${m[1]!.toLowerCase()}` };
    }
  }
  if (hasEq && ATTR_GATE.test(s)) {
    const starts: StartState[] = ['attr-name', 'value-unquoted'];
    if (s.includes("'")) starts.push('value-single');
    if (s.includes('"')) starts.push('value-double');
    if (s.includes('`')) starts.push('value-back');
    for (const st of starts) {
      const f = checkEvents(s, st);
      if (f !== null) return { detected: true, fingerprint: f };
    }
  }
  return { detected: false };
}
