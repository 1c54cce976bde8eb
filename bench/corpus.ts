/**
 * A deterministic synthetic corpus: words drawn from a Zipf-like distribution over a made-up
 * vocabulary, so there are very common, middling and rare terms, plus planted marker words with
 * known frequencies and some Korean and Chinese sentences.
 */

/** mulberry32: a small seeded PRNG, so every run searches the same text. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SYLLABLES = [
  "ka",
  "lo",
  "mi",
  "ren",
  "tu",
  "sa",
  "vel",
  "do",
  "ni",
  "qua",
  "zor",
  "pe",
  "li",
  "mon",
  "ta",
  "ri",
];

function vocabulary(size: number, random: () => number): string[] {
  const words = new Set<string>();
  while (words.size < size) {
    const n = 2 + Math.floor(random() * 3);
    let word = "";
    for (let i = 0; i < n; i++) word += SYLLABLES[Math.floor(random() * SYLLABLES.length)];
    words.add(word);
  }
  return [...words];
}

/** Planted words and the share of messages that carry each. */
export const MARKERS = {
  rare: { word: "zyxwvutsr", share: 0.0002 },
  medium: { word: "quasarbeam", share: 0.01 },
  common: { word: "everyday", share: 0.2 },
} as const;

const KOREAN = ["오늘 대화가 길었어요", "그 대화를 저장했어요", "회의 내용을 정리해 주세요"];
const CHINESE = ["我们今天讨论了数据库的设计", "请总结一下这次会议"];

export interface Corpus {
  vocabulary: string[];
  message(): string;
}

export function corpus(seed = 42, vocabularySize = 5000): Corpus {
  const random = prng(seed);
  const words = vocabulary(vocabularySize, random);
  // Zipf with s = 1: P(rank k) ∝ 1/k, sampled through the cumulative sums.
  const cumulative: number[] = [];
  let total = 0;
  for (let k = 1; k <= words.length; k++) cumulative.push(total += 1 / k);
  const pick = () => {
    const target = random() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] < target) lo = mid + 1;
      else hi = mid;
    }
    return words[lo];
  };
  return {
    vocabulary: words,
    message() {
      const length = 10 + Math.floor(random() * 50);
      const out: string[] = [];
      for (let i = 0; i < length; i++) out.push(pick());
      for (const marker of Object.values(MARKERS)) {
        if (random() < marker.share) out.splice(Math.floor(random() * out.length), 0, marker.word);
      }
      if (random() < 0.02) out.push(KOREAN[Math.floor(random() * KOREAN.length)]);
      if (random() < 0.01) out.push(CHINESE[Math.floor(random() * CHINESE.length)]);
      return out.join(" ");
    },
  };
}
