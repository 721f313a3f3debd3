-- A quick, rough 1M-issue dataset for profiling on a private scratch database,
-- made with INSERT ... SELECT FROM generate_series (the benchmark's own generator
-- under bench/ is the official one: COPY, realistic comments and timelines).
--
--   psql "$DATABASE_URL" -v issues=1000000 -f scripts/scratch_data.sql
--
-- Run it on a freshly migrated, EMPTY database: 300 users, 60 labels, :issues
-- issues over three years (~15 % not done, resolved_at consistent with the
-- status), 0-4 labels each (skewed), titles and descriptions drawn from a word
-- list with a Zipf-like skew (so full-text search has common and rare words),
-- a CREATED event per issue plus a status event per resolved one, some
-- comments, and DailyStat rows for every day. Then ANALYZE.
\set ON_ERROR_STOP on
\if :{?issues}
\else
  \set issues 1000000
\endif
SET maintenance_work_mem = '512MB';
SET synchronous_commit = off;
SELECT setseed(0.42);

-- ---------------------------------------------------------------- words
CREATE TEMP TABLE words (i int PRIMARY KEY, w text NOT NULL);
INSERT INTO words
SELECT ord, w FROM unnest(string_to_array(
 'error page user login button export report issue crash slow fails when after click save data '
 'list search filter sort update import file upload download email password account profile settings '
 'dashboard chart table column row value field form input text number date time server request response '
 'api token session browser mobile screen layout style font color image icon menu link navigation header '
 'footer sidebar modal dialog popup message notification alert warning timeout connection database query '
 'index cache memory disk network proxy certificate security permission role admin maintainer reporter '
 'label status severity priority assignee comment attachment timeline event history audit log trace debug '
 'release version build deploy test unit integration regression performance latency throughput load '
 'stress scale worker queue task job schedule cron retry backoff limit quota billing invoice payment order '
 'customer product cart checkout shipping address country language locale translation unicode encoding '
 'utf parser json csv xml yaml config option flag feature toggle experiment metric counter gauge histogram '
 'wrong missing broken empty blank duplicate invalid unexpected incorrect stale outdated intermittent '
 'random sometimes always never occasionally keyboard shortcut focus scroll resize zoom print copy paste '
 'drag drop select checkbox radio dropdown tooltip spinner progress loading blank white black dark light '
 'theme contrast accessibility reader label aria firefox chrome safari edge android iphone tablet desktop '
 'windows linux macos docker kubernetes postgres redis celery django python javascript typescript css html '
 'the a an of to in on for with and or but not is are was were be been has have had does did should would '
 'could can will may might must shows show shown displays display returns return throws throw raises raise '
 'instead expected actual behaviour behavior steps reproduce environment workaround fix patch hotfix '
 'rollback migration schema constraint trigger function procedure view report monthly weekly daily yearly '
 'total average median percentile sum count group team project board sprint backlog epic story bug task '
 'customer support ticket escalation incident outage downtime uptime monitor health check probe webhook '
 'callback integration slack github gitlab jira calendar reminder digest summary preview render markdown '
 'heading bold italic code block quote table emoji mention reply thread archive delete restore undo redo',
 ' ')) WITH ORDINALITY AS t(w, ord)
WHERE w <> '';
-- A long tail of rare pseudo-words from syllables (e.g. "kovarin", "tesuloma").
INSERT INTO words
SELECT (SELECT max(i) FROM words) + n,
       (ARRAY['ka','to','ri','mu','sel','van','dor','pi','lo','ne','zu','qua','bre','fi','gan','hol',
              'jex','mor','ost','tri','ul','wen','yas','zim'])[1 + (n % 24)]
    || (ARRAY['la','ve','ri','no','ta','se','mi','do','ku','pe','ro','sa','ti','lu','ba','ge'])[1 + (n / 24 % 16)]
    || (ARRAY['n','r','s','x','ma','lin','tor','vus','dem','ska','qo','th'])[1 + (n / 384 % 12)]
    || CASE WHEN n >= 4608 THEN (ARRAY['a','e','i','o','u','y'])[1 + (n / 4608 % 6)] ELSE '' END
FROM generate_series(1, 27000) AS n;
CREATE TEMP TABLE nwords AS SELECT count(*)::int AS n FROM words;

-- Zipf-ish pick: index = floor(N ^ random()) is log-uniform, so word 1 is ~N
-- times as frequent as word N. `salt` varies per call site so that the planner
-- cannot fold calls together.
CREATE OR REPLACE FUNCTION pg_temp.words(n_words int, salt int) RETURNS text
LANGUAGE sql VOLATILE AS $$
  SELECT string_agg((SELECT w.w FROM words AS w WHERE w.i = pick.i), ' ')
  FROM (SELECT floor(power((SELECT n FROM nwords), random()))::int + salt * 0 AS i
        FROM generate_series(1, n_words)) AS pick
$$;

-- ---------------------------------------------------------------- users, labels
INSERT INTO accounts_user (password, email, display_name, role, is_active, date_joined, email_notifications)
SELECT '!', format('user%s@example.com', n), format('User %s', n),
       CASE WHEN n <= 10 THEN 'ADMIN' WHEN n <= 70 THEN 'MAINTAINER' ELSE 'REPORTER' END,
       true, now() - interval '3 years', n % 5 <> 0
FROM generate_series(1, 300) AS n;

INSERT INTO issues_label (name, colour, description)
SELECT (ARRAY['bug','feature','ui','backend','performance','security','docs','api','mobile','infra',
              'database','search','import','export','auth','billing','regression','flaky','ux','a11y'])
           [1 + (n - 1) % 20] || CASE WHEN n > 20 THEN '-' || ((n - 1) / 20)::text ELSE '' END,
       '#' || lpad(to_hex((n * 2654435761) % 16777216), 6, '0'), ''
FROM generate_series(1, 60) AS n;

-- ---------------------------------------------------------------- issues
-- created_at uniform over three years; issues younger than 30 days are mostly
-- still open, older ones mostly done (about 15 % not done overall).
CREATE TEMP TABLE staged AS
SELECT n,
       gen_random_uuid() AS id,
       now() - (random() * interval '1095 days') AS created_at,
       random() AS r_status,
       random() AS r_latency,
       (1 + floor(random() * 4))::smallint AS severity,
       (71 + floor(random() * 230))::bigint AS reporter_id,
       CASE WHEN random() < 0.2 THEN NULL ELSE (1 + floor(power(random(), 1.5) * 70))::bigint END AS assignee_id
FROM generate_series(1, :issues) AS n;

ALTER TABLE issues_issue SET (autovacuum_enabled = false);
INSERT INTO issues_issue (id, number, title, description, status, severity, version, created_at,
                          updated_at, resolved_at, assignee_id, reporter_id)
SELECT s.id, s.n,
       upper(left(t.title, 1)) || substr(t.title, 2),
       pg_temp.words(15 + (s.n % 60), 3),
       st.status, s.severity,
       CASE WHEN st.status = 'DONE' THEN 3 ELSE 1 + (s.n % 3) END,
       s.created_at,
       COALESCE(st.resolved_at, LEAST(now(), s.created_at + s.r_latency * interval '20 days')),
       st.resolved_at, s.assignee_id, s.reporter_id
FROM staged AS s
CROSS JOIN LATERAL (SELECT pg_temp.words(4 + (s.n % 7), 1) AS title) AS t
CROSS JOIN LATERAL (
  SELECT CASE
           WHEN s.r_status < CASE WHEN s.created_at > now() - interval '30 days' THEN 0.6 ELSE 0.137 END
           THEN (ARRAY['OPEN','TRIAGED','IN_PROGRESS'])[1 + (s.n % 3)]
           ELSE 'DONE' END AS status
) AS pick
CROSS JOIN LATERAL (
  SELECT pick.status,
         CASE WHEN pick.status = 'DONE'
              THEN LEAST(now(), s.created_at + exp(s.r_latency * ln(24 * 120)) * interval '1 hour')
         END AS resolved_at
) AS st;
SELECT setval('issues_issue_number_seq', (SELECT max(number) FROM issues_issue));
ALTER TABLE issues_issue RESET (autovacuum_enabled);

-- 0-4 labels each, popularity skewed towards the first labels.
INSERT INTO issues_issue_labels (issue_id, label_id)
SELECT DISTINCT s.id, 1 + floor(power(random(), 2) * 60)::bigint
FROM staged AS s
CROSS JOIN LATERAL generate_series(1, (s.n::bigint * 7919 % 5)::int) AS k;

-- ---------------------------------------------------------------- timeline
INSERT INTO issues_issueevent (issue_id, actor_id, kind, field, old_value, new_value, data, created_at)
SELECT i.id, i.reporter_id, 'CREATED', '', NULL, NULL,
       jsonb_build_object('title', i.title, 'status', 'OPEN',
                          'severity', (ARRAY['LOW','MEDIUM','HIGH','CRITICAL'])[i.severity],
                          'labels', '[]'::jsonb, 'assignee', NULL),
       i.created_at
FROM issues_issue AS i;
INSERT INTO issues_issueevent (issue_id, actor_id, kind, field, old_value, new_value, data, created_at)
SELECT i.id, COALESCE(i.assignee_id, 1), 'FIELD_CHANGED', 'status', '"OPEN"', '"DONE"',
       jsonb_build_object('version', 3), i.resolved_at
FROM issues_issue AS i WHERE i.status = 'DONE';

-- ---------------------------------------------------------------- comments
INSERT INTO issues_comment (issue_id, author_id, body, created_at)
SELECT s.id, 1 + floor(random() * 300)::bigint, pg_temp.words(8 + (s.n % 30), 4),
       s.created_at + random() * interval '5 days'
FROM staged AS s
CROSS JOIN LATERAL generate_series(1, (s.n * 31) % 3) AS k;
INSERT INTO issues_issueevent (issue_id, actor_id, kind, field, data, created_at)
SELECT c.issue_id, c.author_id, 'COMMENT_ADDED', '', jsonb_build_object('comment', c.id), c.created_at
FROM issues_comment AS c;

-- Reporter and assignee watch their issues.
INSERT INTO issues_watch (issue_id, user_id, created_at)
SELECT id, reporter_id, created_at FROM issues_issue
UNION ALL
SELECT id, assignee_id, created_at FROM issues_issue
WHERE assignee_id IS NOT NULL AND assignee_id <> reporter_id;

-- ---------------------------------------------------------------- daily stats
INSERT INTO reports_dailystat (date, status, severity, count, computed_at)
SELECT d::date, st.status, sev, (1000 + 40 * (sev + length(st.status)) + (extract(doy FROM d)::int % 50))::int, d
FROM generate_series(now() - interval '1095 days', now(), interval '1 day') AS d
CROSS JOIN unnest(ARRAY['OPEN','TRIAGED','IN_PROGRESS','DONE']) AS st(status)
CROSS JOIN generate_series(1, 4) AS sev;

VACUUM ANALYZE;
SELECT status, count(*) FROM issues_issue GROUP BY status ORDER BY 1;
SELECT (SELECT count(*) FROM issues_issue_labels) AS labels,
       (SELECT count(*) FROM issues_comment) AS comments,
       (SELECT count(*) FROM issues_issueevent) AS events;
