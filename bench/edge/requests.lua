-- The requests of bench/edge/run.sh, prebuilt (no string work while measuring).
--
-- BENCH_KIND=collect: POST /collect as browsers send it: pageviews and a few custom events
-- on varied pages with varied referrers, each request with a User-Agent from a mix of
-- desktop and mobile browsers and about 1 in 7 bots or headless browsers (which oa-edge
-- drops, still answering 204). BENCH_SITE_ID names the site. BENCH_DELAY_MS > 0 makes each
-- connection wait that long after each answer (a fixed rate, for latency below the maximum).
--
-- BENCH_KIND=v1: POST /v1/projects/{id}/events as a backend sends them: one event per
-- request, or BENCH_BATCH events in {"events": [...]}. BENCH_PROJECT_ID and BENCH_KEY name
-- the project and the key.
local kind = os.getenv("BENCH_KIND") or "collect"
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local requests = {}

local function collect_requests()
  local site = os.getenv("BENCH_SITE_ID") or "site_unknown"
  local agents = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36 Edg/123.0.2420.81",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 16_7_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36 OPR/108.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36",
  }
  local pages = { "/", "/pricing", "/blog/how-we-count-visitors", "/docs/getting-started",
    "/products/running-shoes?color=blue", "/checkout", "/about",
    "/blog/privacy-first-analytics?utm_source=newsletter&utm_medium=email&utm_campaign=spring" }
  local referrers = { "", "https://www.google.com/", "https://news.ycombinator.com/",
    "https://www.bing.com/search?q=analytics", "https://twitter.com/", "https://shop.example.com/" }
  local widths = { 1920, 1440, 1366, 390, 414, 768 }

  -- Pages, referrers and User-Agents in an order that mixes them.
  for i = 1, 997 do
    local page = pages[(i * 7) % #pages + 1]
    local ref = referrers[(i * 5) % #referrers + 1]
    local typ, extra = "pageview", ""
    if i % 10 == 0 then
      typ, extra = "event", ',"name":"signup_click","props":{"plan":"pro","position":"header"}'
    end
    local body = string.format(
      '{"site_id":"%s","type":"%s","url":"https://shop.example.com%s","referrer":"%s",' ..
      '"title":"Example Shop - page %d","screen_width":%d,"language":"en-US"%s}',
      site, typ, page, ref, i % 50, widths[i % #widths + 1], extra)
    requests[i] = wrk.format("POST", "/collect", {
      ["Content-Type"] = "text/plain",
      ["User-Agent"] = agents[(i * 13) % #agents + 1],
    }, body)
  end
end

local function v1_requests()
  local project = os.getenv("BENCH_PROJECT_ID") or "prj_unknown"
  local key = os.getenv("BENCH_KEY") or ""
  local batch = tonumber(os.getenv("BENCH_BATCH") or "1")
  local names = { "purchase", "signup", "upgrade", "invite_sent", "export" }
  local function event(i)
    return string.format(
      '{"event_type":"conversion","event_name":"%s","user_id":"u_%08x",' ..
      '"url":"https://example.com/checkout/thanks?utm_source=google&utm_medium=cpc",' ..
      '"properties":{"plan":"pro","seats":%d,"annual":true},"revenue":%d.99,"currency":"USD",' ..
      '"ip":"203.0.113.%d","user_agent":"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"}',
      names[i % #names + 1], i * 2654435761 % 4294967296, i % 20 + 1, i % 90 + 9, i % 250 + 1)
  end

  for r = 1, 64 do
    local body
    if batch > 1 then
      local evs = {}
      for j = 1, batch do evs[j] = event(r * batch + j) end
      body = '{"events":[' .. table.concat(evs, ",") .. ']}'
    else
      body = event(r)
    end
    requests[r] = wrk.format("POST", "/v1/projects/" .. project .. "/events", {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. key,
    }, body)
  end
end

if kind == "v1" then
  v1_requests()
else
  collect_requests()
end

local n = 0
function request()
  n = n % #requests + 1
  return requests[n]
end

if delay_ms > 0 then
  function delay() return delay_ms end
end
