/** One news article as read from the input, before any normalization. */
export interface Article {
  /** Unique within a run; taken from the file name, the JSONL `id`, or the feed item's guid/id/link. */
  id: string;
  /** Headline; may be empty when the input has none. */
  title: string;
  /** Body text as delivered, markup already stripped for feeds. Does not repeat the title for .txt files. */
  text: string;
  /** Publication time as given by the input (ISO 8601 when it could be parsed), or undefined. */
  publishedAt?: string;
  source?: string;
  url?: string;
  /** Where the article came from, `path` or `path:line`, for error messages and reports. */
  origin: string;
}
