// A line-based three-way merge (diff3) for the conflict panel: the text the
// user started from (base), their edit (mine) and the version that won
// (theirs). Regions changed on one side only take that side; regions changed
// on both sides differently are kept with both texts between conflict
// markers, for the user to settle before saving. Texts longer than
// LINES_MAX lines are not merged (the table below is lines² in size).

export const LINES_MAX = 3000;

function lines(text) {
  return text.split(/(?<=\n)/).filter((line) => line !== '');
}

// The longest common subsequence of two line arrays, as a Map from an index
// in `a` to its matched index in `b` (both increasing).
function matches(a, b) {
  const width = b.length + 1;
  const table = new Uint32Array((a.length + 1) * width);
  for (let i = a.length - 1; i >= 0; i -= 1) {
    for (let j = b.length - 1; j >= 0; j -= 1) {
      table[i * width + j] = a[i] === b[j]
        ? table[(i + 1) * width + j + 1] + 1
        : Math.max(table[(i + 1) * width + j], table[i * width + j + 1]);
    }
  }
  const pairs = new Map();
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      pairs.set(i, j);
      i += 1;
      j += 1;
    } else if (table[(i + 1) * width + j] >= table[i * width + j + 1]) {
      i += 1;
    } else {
      j += 1;
    }
  }
  return pairs;
}

function withNewline(text) {
  return text === '' || text.endsWith('\n') ? text : text + '\n';
}

// Answers {text, conflicts} or null when a text is too long to merge.
export function merge3(baseText, mineText, theirsText, theirsLabel) {
  const base = lines(baseText);
  const mine = lines(mineText);
  const theirs = lines(theirsText);
  if (Math.max(base.length, mine.length, theirs.length) > LINES_MAX) return null;
  const toMine = matches(base, mine);
  const toTheirs = matches(base, theirs);
  const out = [];
  let conflicts = 0;
  let baseStart = 0;
  let mineStart = 0;
  let theirsStart = 0;
  for (let index = 0; index <= base.length; index += 1) {
    const end = index === base.length;
    // A line unchanged on both sides ends the region before it.
    if (!end && !(toMine.has(index) && toTheirs.has(index))) continue;
    const mineEnd = end ? mine.length : toMine.get(index);
    const theirsEnd = end ? theirs.length : toTheirs.get(index);
    const was = base.slice(baseStart, index).join('');
    const ours = mine.slice(mineStart, mineEnd).join('');
    const other = theirs.slice(theirsStart, theirsEnd).join('');
    if (ours === was) out.push(other);
    else if (other === was || ours === other) out.push(ours);
    else {
      conflicts += 1;
      out.push('<<<<<<< yours\n', withNewline(ours), '=======\n', withNewline(other),
        '>>>>>>> ' + (theirsLabel || 'theirs') + '\n');
    }
    if (!end) out.push(base[index]);
    baseStart = index + 1;
    mineStart = mineEnd + 1;
    theirsStart = theirsEnd + 1;
  }
  return { text: out.join(''), conflicts };
}
