/** A fenced block of README.md (see readme-blocks.mjs). */
export interface ReadmeBlock {
  lang: string;
  /** 1-based line of the block's first code line. */
  line: number;
  code: string;
  id: string | undefined;
  preamble: string;
}
export const generatedDir: string;
export function readBlocks(file?: string): ReadmeBlock[];
