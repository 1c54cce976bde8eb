/** The interface languages: English, and Korean (the original Pensieve's language). */
export type Locale = "en" | "ko";
export const LOCALES: Locale[] = ["en", "ko"];

const en = {
  tagline: "Your AI conversations, kept in one place and carried between AI clients.",
  intro:
    "Save a conversation in Claude, find and continue it in ChatGPT, and browse, search and delete everything here.",
  signIn: "Sign in",
  signUp: "Create account",
  signOut: "Sign out",
  email: "Email",
  password: "Password",
  passwordHint: "At least 8 characters.",
  newPassword: "New password",
  currentPassword: "Current password",
  haveAccount: "Already have an account?",
  noAccount: "New here?",
  conversations: "Conversations",
  settings: "Settings",
  search: "Search",
  searchPlaceholder: "Words to find",
  clear: "Clear",
  messages: "messages",
  updated: "Updated",
  from: "from",
  older: "Older",
  more: "More messages",
  noConversations: "No conversations yet.",
  noConversationsNext:
    "Connect an AI client (see the home page) and ask it to save a conversation to Pensieve.",
  noResults: "Nothing matches that search.",
  results: "results",
  rename: "Rename",
  title: "Title",
  tags: "Tags",
  tagsHint: "Separated by commas.",
  save: "Save",
  delete: "Delete",
  deleteConversation: "Delete this conversation?",
  deleteWarning: "It and all its messages are removed for good.",
  cancel: "Cancel",
  downloadMarkdown: "Download as Markdown",
  downloadJson: "Download as JSON",
  tokens: "Personal access tokens",
  tokensHelp: "For scripts and for AI clients configured with a header. Shown once.",
  tokenName: "Name",
  createToken: "Create token",
  tokenCreated: "Your new token. Copy it now: it is not shown again.",
  revoke: "Revoke",
  noTokens: "No tokens.",
  lastUsed: "last used",
  never: "never",
  expires: "expires",
  connectedApps: "Connected apps",
  noApps: "No app is connected. Add Pensieve to claude.ai or ChatGPT to see it here.",
  disconnect: "Disconnect",
  changePassword: "Change password",
  passwordChanged: "Password changed. Every other session and token was signed out.",
  deleteAccount: "Delete account",
  deleteAccountWarning: "Deletes your account with every conversation, message and token.",
  connect: "Connect an AI client",
  connectHelp: "Use this server's address:",
  notFound: "Not found.",
  goHome: "Home",
  language: "Language",
  role_user: "You",
  role_assistant: "Assistant",
  role_system: "System",
  role_tool: "Tool",
  skip: "Skip to content",
  formExpired: "The form expired. Try again.",
  exportAll: "Export everything",
  exportHelp: "Every conversation with all its messages, as one JSON file.",
  titleRequired: "A title can't be empty.",
  importTitle: "Import",
  importHelp:
    "Bring in a ChatGPT or Claude data export (the .zip as downloaded, or its conversations.json), or a Pensieve export. Importing the same file again adds nothing.",
  importFile: "Export file",
  importButton: "Import",
  importing: "Importing…",
  chooseFile: "Choose an export file first.",
  importDone: (created: number, updated: number, messages: number) =>
    `Imported: ${created} new conversations, ${updated} updated, ${messages} messages added.`,
  importSkipped: (n: number) => `${n} could not be read and were skipped:`,
};

export type Messages = typeof en;

const ko: Messages = {
  tagline: "AI 대화를 한곳에 보관하고 AI 클라이언트 사이에서 이어 갑니다.",
  intro:
    "Claude에서 대화를 저장하고 ChatGPT에서 찾아 이어 가세요. 모든 대화는 여기서 보고, 검색하고, 지울 수 있습니다.",
  signIn: "로그인",
  signUp: "계정 만들기",
  signOut: "로그아웃",
  email: "이메일",
  password: "비밀번호",
  passwordHint: "8자 이상.",
  newPassword: "새 비밀번호",
  currentPassword: "현재 비밀번호",
  haveAccount: "이미 계정이 있나요?",
  noAccount: "처음이신가요?",
  conversations: "대화",
  settings: "설정",
  search: "검색",
  searchPlaceholder: "찾을 단어",
  clear: "지우기",
  messages: "개 메시지",
  updated: "수정",
  from: "출처",
  older: "이전",
  more: "메시지 더 보기",
  noConversations: "아직 대화가 없습니다.",
  noConversationsNext:
    "AI 클라이언트를 연결하고(첫 화면 참고) 대화를 Pensieve에 저장해 달라고 하세요.",
  noResults: "검색 결과가 없습니다.",
  results: "개 결과",
  rename: "이름 바꾸기",
  title: "제목",
  tags: "태그",
  tagsHint: "쉼표로 구분합니다.",
  save: "저장",
  delete: "삭제",
  deleteConversation: "이 대화를 삭제할까요?",
  deleteWarning: "대화와 모든 메시지가 영구히 삭제됩니다.",
  cancel: "취소",
  downloadMarkdown: "Markdown으로 내려받기",
  downloadJson: "JSON으로 내려받기",
  tokens: "개인 액세스 토큰",
  tokensHelp: "스크립트와 헤더로 설정한 AI 클라이언트용입니다. 한 번만 표시됩니다.",
  tokenName: "이름",
  createToken: "토큰 만들기",
  tokenCreated: "새 토큰입니다. 지금 복사하세요. 다시 표시되지 않습니다.",
  revoke: "폐기",
  noTokens: "토큰이 없습니다.",
  lastUsed: "마지막 사용",
  never: "없음",
  expires: "만료",
  connectedApps: "연결된 앱",
  noApps: "연결된 앱이 없습니다. claude.ai나 ChatGPT에 Pensieve를 추가하면 여기에 표시됩니다.",
  disconnect: "연결 해제",
  changePassword: "비밀번호 변경",
  passwordChanged: "비밀번호를 바꿨습니다. 다른 모든 세션과 토큰은 로그아웃되었습니다.",
  deleteAccount: "계정 삭제",
  deleteAccountWarning: "계정과 모든 대화, 메시지, 토큰을 삭제합니다.",
  connect: "AI 클라이언트 연결",
  connectHelp: "이 서버의 주소를 사용하세요:",
  notFound: "찾을 수 없습니다.",
  goHome: "처음으로",
  language: "언어",
  role_user: "나",
  role_assistant: "어시스턴트",
  role_system: "시스템",
  role_tool: "도구",
  skip: "본문으로 건너뛰기",
  formExpired: "양식이 만료되었습니다. 다시 시도하세요.",
  exportAll: "모두 내보내기",
  exportHelp: "모든 대화와 메시지를 JSON 파일 하나로 내려받습니다.",
  titleRequired: "제목을 비워 둘 수 없습니다.",
  importTitle: "가져오기",
  importHelp:
    "ChatGPT나 Claude의 데이터 내보내기 파일(내려받은 .zip 또는 그 안의 conversations.json)이나 Pensieve 내보내기 파일을 가져옵니다. 같은 파일을 다시 가져와도 아무것도 늘지 않습니다.",
  importFile: "내보내기 파일",
  importButton: "가져오기",
  importing: "가져오는 중…",
  chooseFile: "먼저 내보내기 파일을 고르세요.",
  importDone: (created: number, updated: number, messages: number) =>
    `가져왔습니다: 새 대화 ${created}개, 갱신 ${updated}개, 메시지 ${messages}개 추가.`,
  importSkipped: (n: number) => `${n}개는 읽을 수 없어 건너뛰었습니다:`,
};

const CATALOG: Record<Locale, Messages> = { en, ko };

export function messagesFor(locale: Locale): Messages {
  return CATALOG[locale];
}

/** The language: the visitor's explicit choice (cookie), else their browser's first match. */
export function pickLocale(cookie: string | undefined, acceptLanguage: string | undefined): Locale {
  if (cookie === "en" || cookie === "ko") return cookie;
  const wanted = (acceptLanguage ?? "").split(",").map((part) => {
    const [tag, q] = part.trim().split(";q=");
    return { tag: tag.toLowerCase(), q: q === undefined ? 1 : Number(q) };
  }).filter((w) => w.tag && !Number.isNaN(w.q)).sort((a, b) => b.q - a.q);
  for (const { tag } of wanted) {
    const base = tag.split("-")[0];
    if (base === "ko" || base === "en") return base;
  }
  return "en";
}
