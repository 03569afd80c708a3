{#
  The quality gate's evidence: after every `dbt build` or `dbt test` (an
  on-run-end hook in dbt_project.yml), record per feature view the latest
  result of each test that guards it, with the checksums of the model (its SQL)
  and of its contract (its columns' data types) those results are about:

    target/feature_test_results.jsonl, one JSON object per feature view:
    {"view", "checksum", "contract_checksum", "invocation_id", "finished_at",
     "command", "results": [{"unique_id", "name", "resource_type", "status",
                             "message", "invocation_id", "finished_at"}]}

  The sync (sync/quality_gate.py) reads it and refuses to publish a view whose
  recorded checksums are not the manifest's, or any of whose current tests has
  no passing result at those checksums.

  Why not run_results.json: it holds the last command only, and `dbt compile`
  or `dbt docs generate` rewrite it listing tests as successful that never ran.
  Other commands (run, seed, compile, docs, retry...) record nothing here.

  A test counts for every feature view it depends on (data tests through their
  refs, unit tests through the model they test); in `dbt build` the view's own
  model result is kept too, so a failed or skipped build is refused by name.
  Results merge by test: a later `dbt test --select one_test` replaces that one
  test's result only. When a view's checksums changed, its old results are
  dropped: they were about another version of the model. (A unit test's own
  definition has no checksum that hooks can see: its id is its name.)

  Written through dbt's own connection, as hooks have no other file API, into
  the target folder, which dbt creates before any hook runs: by DuckDB as one
  file; by Spark as a text table at that path, i.e. a folder of part files, one
  JSON object a line (macros/spark/feature_test_results.sql), which the sync
  reads the same way.
#}
{% macro record_feature_test_results(results) -%}
  {%- if not execute or flags.WHICH not in ('build', 'test') -%}
    {{- return('') -}}
  {%- endif -%}
  {%- set path = feature_test_results_path() -%}
  {%- set views = {} -%}
  {%- for node in graph.nodes.values() if node.resource_type == 'model' -%}
    {%- set meta = node.config.meta or {} -%}
    {%- if meta.get('entity') -%}
      {%- do views.update({node.unique_id: node}) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set finished_at = modules.datetime.datetime.now(modules.pytz.utc).strftime('%Y-%m-%dT%H:%M:%SZ') -%}

  {#- this run's results, per view -#}
  {%- set fresh = {} -%}
  {%- for result in results -%}
    {%- set node = result.node -%}
    {%- set targets = [] -%}
    {%- if node.resource_type in ('test', 'unit_test') -%}
      {%- for parent in node.depends_on.nodes if parent in views and parent not in targets -%}
        {%- do targets.append(parent) -%}
      {%- endfor -%}
      {%- set tested = node.tested_node_unique_id if node.tested_node_unique_id is defined else none -%}
      {%- if tested and tested in views and tested not in targets -%}
        {%- do targets.append(tested) -%}
      {%- endif -%}
    {%- elif node.resource_type == 'model' and node.unique_id in views -%}
      {%- do targets.append(node.unique_id) -%}
    {%- endif -%}
    {%- for target in targets -%}
      {%- do fresh.setdefault(target, []).append({
          'unique_id': node.unique_id,
          'name': node.name,
          'resource_type': node.resource_type | string,
          'status': result.status | string,
          'message': (modules.re.sub('\x1b\\[[0-9;]*m', '', (result.message or '') | string) | trim)[:500],
          'invocation_id': invocation_id,
          'finished_at': finished_at,
      }) -%}
    {%- endfor -%}
  {%- endfor -%}
  {%- if not fresh -%}
    {{- return('') -}}
  {%- endif -%}

  {#- merge with what earlier runs recorded -#}
  {%- set records = {} -%}
  {%- for record in feature_test_results_read(path) -%}
    {%- do records.update({record['view']: record}) -%}
  {%- endfor -%}
  {%- for unique_id, entries in fresh.items() -%}
    {%- set view = views[unique_id] -%}
    {%- set checksum = view.checksum.checksum -%}
    {%- set contract_checksum = (view.contract or {}).get('checksum') or '' -%}
    {%- set previous = records.get(view.name) -%}
    {%- set kept = [] -%}
    {%- if previous and previous.get('checksum') == checksum
          and (previous.get('contract_checksum') or '') == contract_checksum -%}
      {%- set replaced = entries | map(attribute='unique_id') | list -%}
      {%- for entry in previous.get('results') or [] if entry.get('unique_id') not in replaced -%}
        {%- do kept.append(entry) -%}
      {%- endfor -%}
    {%- endif -%}
    {%- do records.update({view.name: {
        'view': view.name,
        'checksum': checksum,
        'contract_checksum': contract_checksum,
        'invocation_id': invocation_id,
        'finished_at': finished_at,
        'command': flags.WHICH,
        'results': (kept + entries) | sort(attribute='unique_id'),
    }}) -%}
  {%- endfor -%}

  {%- set lines = [] -%}
  {%- for name in records | sort -%}
    {%- set record = records[name] -%}
    {%- do lines.append({
        'view': name,
        'checksum': record.get('checksum'),
        'contract_checksum': record.get('contract_checksum'),
        'invocation_id': record.get('invocation_id'),
        'finished_at': record.get('finished_at'),
        'command': record.get('command'),
        'results': record.get('results') or [],
    }) -%}
  {%- endfor -%}
  {%- do feature_test_results_write(path, lines) -%}
  {{- log('recorded the tests of ' ~ fresh | length ~ ' feature view(s) in ' ~ path, info=true) -}}
  {{- return('') -}}
{%- endmacro %}


{#
  target/feature_test_results.jsonl, honouring --project-dir and --target-path;
  absolute, as Spark would read a relative path from its schema's folder.
#}
{% macro feature_test_results_path() -%}
  {%- set target_path = (flags.TARGET_PATH or 'target') | string -%}
  {%- if not target_path.startswith('/') -%}
    {%- set target_path = feature_store_project_root() ~ '/' ~ target_path -%}
  {%- endif -%}
  {{- return(target_path ~ '/feature_test_results.jsonl') -}}
{%- endmacro %}


{# The project's folder: --project-dir, or where dbt found dbt_project.yml (an absolute path). #}
{% macro feature_store_project_root() -%}
  {%- set root = invocation_args_dict.get('project_dir') or flags.PROJECT_DIR or '.' -%}
  {{- return((root | string).rstrip('/') or '/') -}}
{%- endmacro %}


{# The records an earlier run wrote, or [] when there is no file yet. #}
{% macro feature_test_results_read(path) -%}
  {{- return(adapter.dispatch('feature_test_results_read')(path)) -}}
{%- endmacro %}

{# DuckDB SQL: read_text of the file. #}
{% macro default__feature_test_results_read(path) -%}
  {%- set found = run_query('select count(*) from glob(' ~ feature_sql_text(path) ~ ')') -%}
  {%- if found.columns[0].values()[0] == 0 -%}
    {{- return([]) -}}
  {%- endif -%}
  {%- set text = run_query('select content from read_text(' ~ feature_sql_text(path) ~ ')').columns[0].values()[0] -%}
  {{- return(feature_test_results_parse((text or '').splitlines())) -}}
{%- endmacro %}


{# The records among JSON lines (blank and foreign lines skipped). #}
{% macro feature_test_results_parse(lines) -%}
  {%- set records = [] -%}
  {%- for line in lines if line and line | trim -%}
    {%- set record = fromjson(line) -%}
    {%- if record is mapping and record.get('view') -%}
      {%- do records.append(record) -%}
    {%- endif -%}
  {%- endfor -%}
  {{- return(records) -}}
{%- endmacro %}


{# Rewrite the records, one JSON object a line. #}
{% macro feature_test_results_write(path, records) -%}
  {{- return(adapter.dispatch('feature_test_results_write')(path, records)) -}}
{%- endmacro %}

{# DuckDB SQL: COPY ... (format json) writes one object a line, `results` as JSON. #}
{% macro default__feature_test_results_write(path, records) -%}
  {%- set rows = [] -%}
  {%- for record in records -%}
    {%- do rows.append('(' ~ feature_sql_text(record.view) ~ ', ' ~ feature_sql_text(record.checksum) ~ ', '
        ~ feature_sql_text(record.contract_checksum) ~ ', ' ~ feature_sql_text(record.invocation_id) ~ ', '
        ~ feature_sql_text(record.finished_at) ~ ', ' ~ feature_sql_text(record.command)
        ~ ', cast(' ~ feature_sql_text(tojson(record.results)) ~ ' as json))') -%}
  {%- endfor -%}
  {%- call statement('record_feature_test_results') -%}
    copy (
        select *
        from (values {{ rows | join(', ') }})
            as records (view, checksum, contract_checksum, invocation_id, finished_at, command, results)
        order by view
    ) to {{ feature_sql_text(path) }} (format json)
  {%- endcall -%}
{%- endmacro %}


{# A SQL string literal. #}
{% macro feature_sql_text(value) -%}
  {{- return("'" ~ (value if value is not none else '') | string | replace("'", "''") ~ "'") -}}
{%- endmacro %}
