"""Serves moto's AWS API emulator for the project's integration tests and `npm run emulator`.

It builds the same WSGI app as `python -m moto.server` (moto/server.py: a
`DomainDispatcherApplication` over `create_backend_app`, on werkzeug's threaded server) and changes
these things:

- One request at a time. moto's backends are not thread-safe: a conditional write is "look up the
  item, evaluate the condition, store the new item" in plain Python, and TransactWriteItems checks
  every condition before applying any write. On the threaded server two requests can interleave
  between the check and the write, so two conditional writes against the same previous value can
  both succeed. Real DynamoDB is atomic per item and per transaction, and the project relies on
  that (concurrent registrations must each get a distinct version). A lock around each whole
  request, response body included, restores that atomicity. The server stays threaded, so
  keep-alive connections and many open sockets still work; only the handling is one at a time.
- Port 0 by default: the OS picks a free port at bind time and the launcher prints
  `MOTO_READY <port>` once the socket is listening. Nothing can take the port between choosing it
  and binding it, unlike choosing a port in the parent and passing it in.
- `--exit-with-stdin`: exit when standard input reaches end of file, i.e. when the parent that
  holds the other end of the pipe is gone, however it died (even SIGKILL), so no orphan keeps a
  port open. Request logging is off: one line per request drowns the test output.
- TransactWriteItems rolls back with an undo log of the items it touched. moto's own
  `DynamoDBBackend.transact_write_items` deep-copies every table an operation names, once per
  operation, before it starts (its rollback puts the copies back): a transaction of 100 puts into a
  table of N items copies 100 × N items, so materializing a few thousand entities took minutes and
  grew the server past 20 GB. The replacement below is moto's loop unchanged (same checks, same
  order, same CancellationReasons) except that, before each operation, it remembers the one item the
  operation may change (and each table's stream length), and a cancelled transaction restores just
  those. `--moto-transactions` keeps moto's own version (the tests compare the two).
- Condition expressions are parsed once per distinct text. moto lexes and parses a
  ConditionExpression from scratch every time it meets one, three times per transactional Put
  (request validation, the transaction's check, put_item's own check), about 1 ms each: 80 % of the
  server's time when materializing. Only the `:value` leaves of the parsed tree depend on
  ExpressionAttributeValues, so the tree is kept per (expression, ExpressionAttributeNames) and each
  use puts its own values into those leaves before moto builds the condition from it as before.
  A parse that fails is not kept, so errors are raised as moto raises them.
- EventBridge TestEventPattern answers with moto's own pattern matcher (the one its PutEvents
  routing uses; moto 5.2.1 implements the call as a no-op). As AWS does, the event must carry the
  envelope fields `id`, `account`, `source`, `time`, `region`, `resources` and `detail-type`, or the
  call fails with a ValidationException; an invalid pattern fails as moto's PutRule fails.
- Firehose S3 prefixes are rendered as Firehose renders custom prefixes: `!{timestamp:<pattern>}`
  (Java DateTimeFormatter letters yyyy, yy, MM, dd, HH, mm, ss; UTC, at delivery) and
  `!{firehose:random-string}`; a prefix holding a `!{timestamp:…}` expression gets no
  `YYYY/MM/DD/HH/` of its own (moto 5.2.1 appends that to every prefix and leaves the expressions
  as literal text, so the capture partitions `date=…/hour=…` never appeared). The object name stays
  moto's `<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>`, as Firehose names objects.

- CloudWatch percentiles. moto 5.2.1 answers GetMetricData and GetMetricStatistics for Sum,
  Average, Minimum, Maximum and SampleCount only (`Statistics.get_statistics_for_type` returns None
  for `p99`, and a None value then stood in the answer). Here `MetricStat.Stat` may also be `pNN` or
  `pNN.NN` (p0 to p100), and GetMetricStatistics takes `ExtendedStatistics` of the same form: the
  percentile of the period's raw values, each value repeated by its count (PutMetricData's
  `Values`/`Counts`, which moto stores as that many single values), by nearest rank: the value of
  1-based rank ceil(p/100 · n) in sorted order, p0 the minimum. Real CloudWatch computes
  percentiles exactly over few values and approximately over many; nearest rank is our choice, so
  tests can compute the expected answer. Values given as `StatisticValues` are left out of
  percentiles (CloudWatch derives them from a statistic set only when its values are all equal);
  a period without raw values, or a statistic moto does not know (`p101`), leaves that period out
  of the answer instead of answering None. And a GetMetricData
  whose metric queries name one namespace reads that namespace only: moto 5.2.1 matches a query
  with Dimensions on metric name and dimensions alone, so the same metric and dimensions in another
  namespace were counted in (queries over several namespaces still are).
- GetMetricData's StartTime is rounded down as CloudWatch rounds it (API reference: to the minute
  for a start under 15 days ago, 5 minutes up to 63 days, else the hour; periods of 5, 10, 20 or
  30 s to that division of the minute). moto 5.2.1 starts its periods at the second given, so a
  window starting mid-minute missed the values CloudWatch keeps at the minute (standard
  resolution: the EMF forwarder rounds them down as CloudWatch does), and a canary's analysis found
  no requests unless its window happened to cross a minute boundary.
- A gzip request body is decompressed once. moto's server decompresses a `Content-Encoding: gzip`
  body before dispatching it (moto_server/utilities.py `decompress_request_body`, every service
  but S3), and moto 5.2.1's `BaseResponse.setup_class` then decompresses it again, which fails
  (`BadGzipFile`, answered as an HTML 500). The SDK gzips CloudWatch PutMetricData requests over
  10 KB, so the EMF forwarder's batches failed. The second decompression is turned off.
- EventBridge delivers to the targets moto implements (SQS queues, log groups, buses, archives)
  and leaves the rest to the harness. moto 5.2.1's `Rule.send_to_targets` raises
  NotImplementedError for any other target (a state machine, a Lambda function), so once the local
  stack's rules exist in the emulator, a PutEvents matching a rule that starts a state machine
  failed as a whole. Those targets are skipped here; local/event-router.ts delivers them to the
  in-process state machines and functions, as EventBridge would.
- CloudWatch PutCompositeAlarm is answered. moto 5.2.1 stores composite alarms (its
  `put_metric_alarm` reads `AlarmRule`, and DescribeAlarms lists alarms with a rule under
  `CompositeAlarms`) but has no `put_composite_alarm` action, so the call failed with a 500. The
  action is routed to the same method; nothing evaluates the rule here (local/alarm-evaluator.ts
  does).
Checked with moto 5.2.1 (werkzeug 3.1, Flask 3.1).
"""

import argparse
import copy
import os
import signal
import sys
import threading

from werkzeug.serving import WSGIRequestHandler, make_server

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


class SerializedApp:
    """Runs the wrapped WSGI app for one request at a time, producing the whole body under the lock."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            result = self.app(environ, start_response)
            try:
                # A lazily produced body would run backend code after the lock is released.
                return [b"".join(result)]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()


def transact_write_items(self, transact_items):
    """moto 5.2.1's DynamoDBBackend.transact_write_items with an undo log in place of its table copies."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    # (table, hash key, range key, the item before the operation or None), in operation order.
    undo = []
    # Stream shard and its length before the transaction, per table that has a stream.
    stream_marks = {}

    def remember(table_name, key, op_type):
        # Raises what moto's own get_item would raise for this key (unknown table, bad key).
        table = self.get_table(table_name)
        hash_value, range_value = self.get_keys_value(table, key)
        if table.stream_shard is not None and id(table) not in stream_marks:
            stream_marks[id(table)] = (table.stream_shard, len(table.stream_shard.items))
        previous = table.get_item(hash_value, range_value)
        # Update changes the stored Item in place; Put and Delete replace or remove it.
        if op_type == "Update":
            previous = copy.deepcopy(previous)
        undo.append((table, hash_value, range_value, previous))

    def rollback():
        for table, hash_value, range_value, previous in reversed(undo):
            if range_value is not None:
                if previous is None:
                    table.items[hash_value].pop(range_value, None)
                else:
                    table.items[hash_value][range_value] = previous
            elif previous is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = previous
        for shard, length in stream_marks.values():
            del shard.items[length:]

    target_items = set()

    def check_unicity(table_name, key):
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors = []  # [(Code, Message, Item), ..]
    for item in transact_items:
        original_item = None
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")

            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            expression_attribute_names = op.get("ExpressionAttributeNames")
            expression_attribute_values = op.get("ExpressionAttributeValues")
            return_values_on_condition_check_failure = op.get("ReturnValuesOnConditionCheckFailure")

            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]

            check_unicity(table_name, key)
            remember(table_name, key, op_type)

            current = self.get_item(table_name, key)
            if condition_expression is not None:
                condition_op = get_filter_expression(
                    condition_expression,
                    expression_attribute_names,
                    expression_attribute_values,
                )
                if not condition_op.expr(current):
                    if return_values_on_condition_check_failure == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)

            if op_type == "Put":
                self.put_item(
                    table_name,
                    op["Item"],
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Delete":
                self.delete_item(
                    table_name,
                    key,
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Update":
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            rollback()
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))
        except Exception as e:  # noqa: BLE001 - moto reports any other failure as a reason too
            errors.append((type(e).__name__, str(e), original_item))

    if any(code is not None for code, _, _ in errors):
        rollback()
        raise TransactionCanceledException(errors)


def use_parsed_condition_cache(limit: int = 1024) -> None:
    from moto.dynamodb.comparisons import ConditionExpressionParser, OpDefault

    # (expression, names) -> (tree, ids of its nodes that hold a value leaf, names found, values found)
    trees = {}
    value_kind = ConditionExpressionParser.Kind.EXPRESSION_ATTRIBUTE_VALUE

    def holding_values(node, found):
        """Adds to `found` the ids of the nodes at or above a value leaf; says whether `node` is one."""
        held = node.kind == value_kind
        for child in node.children:
            held = holding_values(child, found) or held
        if held:
            found.add(id(node))
        return held

    def bind(parser, node, holders):
        """The tree with this parser's ExpressionAttributeValues in its value leaves."""
        if id(node) not in holders:
            return node
        if node.kind == value_kind:
            return node._replace(value=parser._lookup_expression_attribute_value(node.text))
        return node._replace(children=[bind(parser, child, holders) for child in node.children])

    # The last conditions built, by (expression, names, values): moto parses each operation's
    # condition three times in a row. Conditions are not changed once built, so they can be shared.
    recent = {}

    def parse(self):
        # moto 5.2.1's ConditionExpressionParser.parse, with the tree kept between calls.
        if not self.condition_expression:
            return OpDefault(None, None)
        names = self.expression_attribute_names or {}
        key = (self.condition_expression, tuple(sorted(names.items())))
        recent_key = (key, repr(self.expression_attribute_values))
        condition = recent.get(recent_key)
        if condition is not None and key in trees:
            _, _, names_found, values_found = trees[key]
            self.expr_attr_names_found.extend(names_found)
            self.expr_attr_values_found.extend(values_found)
            return condition
        cached = trees.get(key)
        if cached is None:
            nodes = self._lex_condition_expression()
            nodes = self._parse_paths(nodes)
            nodes = self._apply_functions(nodes)
            nodes = self._apply_comparator(nodes)
            nodes = self._apply_in(nodes)
            nodes = self._apply_between(nodes)
            nodes = self._apply_parens_and_booleans(nodes)
            node = nodes[0]
            self._assert_no_redundant_parentheses(node)
            holders = set()
            holding_values(node, holders)
            if len(trees) >= limit:
                trees.clear()
            trees[key] = (node, holders, self._find_literals(node), self._find_expr_attr_values(node))
        else:
            tree, holders, _, _ = cached
            node = bind(self, tree, holders)
        _, _, names_found, values_found = trees[key]
        self.expr_attr_names_found.extend(names_found)
        self.expr_attr_values_found.extend(values_found)
        condition = self._make_op_condition(node)
        recent[recent_key] = condition
        if len(recent) > 8:
            del recent[next(iter(recent))]
        return condition

    ConditionExpressionParser.parse = parse


def use_undo_log_transactions() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    DynamoDBBackend.transact_write_items = transact_write_items


EVENT_ENVELOPE = ("id", "account", "source", "time", "region", "resources", "detail-type")


def use_test_event_pattern() -> None:
    import json

    from moto.core.exceptions import JsonRESTError
    from moto.events.models import EventPattern
    from moto.events.responses import EventsHandler

    def test_event_pattern(self):
        pattern = EventPattern.load(self._get_param("EventPattern"))
        try:
            event = json.loads(self._get_param("Event") or "")
        except ValueError:
            event = None
        if not isinstance(event, dict) or any(field not in event for field in EVENT_ENVELOPE):
            raise JsonRESTError("ValidationException", "Parameter Event is not valid.")
        return json.dumps({"Result": pattern.matches_event(event)})

    EventsHandler.test_event_pattern = test_event_pattern


# Target services moto's EventBridge delivers itself (moto/events/models.py `Rule.send_to_targets`).
MOTO_DELIVERED_TARGETS = ("logs", "sqs", "events")


def use_harness_event_targets() -> None:
    from moto.events.models import Rule

    original = Rule.send_to_targets

    def send_to_targets(self, *args, **kwargs):
        targets = self.targets
        # Requests are handled one at a time (SerializedApp): swapping the list is not seen by another.
        self.targets = [t for t in targets if t["Arn"].split(":")[2] in MOTO_DELIVERED_TARGETS]
        try:
            return original(self, *args, **kwargs)
        finally:
            self.targets = targets

    Rule.send_to_targets = send_to_targets


JAVA_DATE_LETTERS = (("yyyy", "%Y"), ("yy", "%y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"), ("ss", "%S"))


def render_firehose_prefix(prefix: str, now) -> tuple[str, bool]:
    """The prefix with its `!{…}` expressions evaluated, and whether it held a timestamp expression."""
    import re
    import uuid

    has_timestamp = False

    def evaluate(match) -> str:
        nonlocal has_timestamp
        namespace, _, argument = match.group(1).partition(":")
        if namespace == "timestamp":
            has_timestamp = True
            pattern = argument
            for java, strftime in JAVA_DATE_LETTERS:
                pattern = pattern.replace(java, strftime)
            return now.strftime(pattern)
        if namespace == "firehose" and argument == "random-string":
            return uuid.uuid4().hex[:11]
        return match.group(0)

    return re.sub(r"!\{([^}]*)\}", evaluate, prefix), has_timestamp


def use_firehose_custom_prefixes() -> None:
    from moto.core.utils import utcnow
    from moto.firehose.models import FirehoseBackend
    from moto.moto_api._internal import mock_random

    def format_s3_object_path(delivery_stream_name: str, version_id: str, prefix: str) -> str:
        now = utcnow()
        rendered, has_timestamp = render_firehose_prefix(prefix, now)
        rendered = f"{rendered}{'' if rendered.endswith('/') or rendered == '' else '/'}"
        if not has_timestamp:
            rendered = f"{rendered}{now.strftime('%Y/%m/%d/%H')}/"
        return (
            f"{rendered}{delivery_stream_name}-{version_id}-"
            f"{now.strftime('%Y-%m-%d-%H-%M-%S')}-{str(mock_random.uuid4())}"
        )

    FirehoseBackend._format_s3_object_path = staticmethod(format_s3_object_path)


def use_single_request_decompression() -> None:
    import moto.core.responses

    # In the server the body reaching setup_class is already decompressed (see the docstring).
    moto.core.responses.gzip_decompress = lambda body: body


PERCENTILE = r"p(100(\.0{1,2})?|[0-9]{1,2}(\.[0-9]{1,2})?)"


def nearest_rank(values, p: float):
    """The nearest-rank percentile: the value of 1-based rank ceil(p/100 · n); p0 is the minimum."""
    import math

    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def cloudwatch_start_time(start_time, queries, now=None):
    """GetMetricData's StartTime rounded down as CloudWatch rounds it (API reference, GetMetricData
    StartTime): for periods of 5, 10, 20 or 30 s, to that division of the minute; otherwise, a start
    under 15 days ago to the minute, 15 to 63 days ago to 5 minutes, older to the hour."""
    import datetime as dt

    now = now or dt.datetime.now(dt.timezone.utc)
    start = start_time if start_time.tzinfo else start_time.replace(tzinfo=dt.timezone.utc)
    periods = [int(q["MetricStat"]["Period"]) for q in queries if "MetricStat" in q]
    short = [p for p in periods if p in (5, 10, 20, 30)]
    if short and len(short) == len(periods):
        step = min(short)
    else:
        age = now - start
        step = 60 if age < dt.timedelta(days=15) else 300 if age < dt.timedelta(days=63) else 3600
    epoch = int(start.timestamp())
    rounded = dt.datetime.fromtimestamp(epoch - epoch % step, dt.timezone.utc)
    return rounded if start_time.tzinfo else rounded.replace(tzinfo=None)


def use_cloudwatch_percentiles() -> None:
    import re

    from moto.cloudwatch.exceptions import InvalidParameterValue
    from moto.cloudwatch.models import CloudWatchBackend, Statistics
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.core.responses import ActionResult

    pattern = re.compile(PERCENTILE)
    moto_statistic = Statistics.get_statistics_for_type

    def percentile_of(self, stat):
        values = self.metric_single_values_list
        if not values:
            return None
        return nearest_rank(values, float(stat[1:]))

    def get_statistics_for_type(self, stat):
        if pattern.fullmatch(stat):
            return percentile_of(self, stat)
        return moto_statistic(self, stat)

    def extended_statistics(self):
        found = {stat: percentile_of(self, stat) for stat in getattr(self, "extended", [])}
        return {stat: value for stat, value in found.items() if value is not None} or None

    Statistics.get_statistics_for_type = get_statistics_for_type
    Statistics.extended_statistics = property(extended_statistics)

    moto_get_metric_data = CloudWatchBackend.get_metric_data

    def get_metric_data(self, queries, start_time, end_time, *args, **kwargs):
        start_time = cloudwatch_start_time(start_time, queries)
        args = (start_time, end_time, *args)
        namespaces = {q["MetricStat"]["Metric"].get("Namespace") for q in queries if "MetricStat" in q}
        insights = any(q.get("Expression", "").startswith("SELECT") for q in queries)
        if len(namespaces) == 1 and not insights:
            # moto matches a query with Dimensions on name and dimensions only, whatever the namespace.
            (namespace,) = namespaces
            everything = self.get_all_metrics
            self.get_all_metrics = lambda: [md for md in everything() if md.namespace == namespace]
            try:
                results = moto_get_metric_data(self, queries, *args, **kwargs)
            finally:
                del self.get_all_metrics
        else:
            results = moto_get_metric_data(self, queries, *args, **kwargs)
        for result in results:
            kept = [(v, t) for v, t in zip(result["values"], result["timestamps"]) if v is not None]
            result["values"] = [v for v, _ in kept]
            result["timestamps"] = [t for _, t in kept]
        return results

    CloudWatchBackend.get_metric_data = get_metric_data

    moto_get_metric_statistics = CloudWatchResponse.get_metric_statistics

    def get_metric_statistics(self):
        extended = self._get_param("ExtendedStatistics") or []
        if not extended:
            return moto_get_metric_statistics(self)
        for stat in extended:
            if not pattern.fullmatch(stat):
                raise InvalidParameterValue(f"The value {stat} for parameter ExtendedStatistics is not supported.")
        datapoints = self.cloudwatch_backend.get_metric_statistics(
            self._get_param("Namespace"),
            self._get_param("MetricName"),
            self._get_param("StartTime"),
            self._get_param("EndTime"),
            self._get_int_param("Period"),
            self._get_param("Statistics", []),
            unit=self._get_param("Unit"),
            dimensions=self._get_param("Dimensions", []),
        )
        for datapoint in datapoints:
            datapoint.extended = extended
        return ActionResult({"Label": self._get_param("MetricName"), "Datapoints": datapoints})

    CloudWatchResponse.get_metric_statistics = get_metric_statistics


def use_composite_alarms() -> None:
    from moto.cloudwatch.responses import CloudWatchResponse

    CloudWatchResponse.put_composite_alarm = CloudWatchResponse.put_metric_alarm


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


def exit_when_stdin_closes() -> None:
    def watch() -> None:
        while sys.stdin.buffer.read(65536):
            pass
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 lets the OS pick a free port")
    parser.add_argument("--exit-with-stdin", action="store_true", help="exit when stdin reaches EOF")
    parser.add_argument(
        "--moto-transactions",
        action="store_true",
        help="keep moto's own TransactWriteItems (copies each named table per operation)",
    )
    args = parser.parse_args()

    if not args.moto_transactions:
        use_undo_log_transactions()
        use_parsed_condition_cache()

    use_test_event_pattern()
    use_harness_event_targets()
    use_firehose_custom_prefixes()
    use_cloudwatch_percentiles()
    use_composite_alarms()
    use_single_request_decompression()
    app = SerializedApp(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, app, threaded=True, request_handler=QuietHandler)
    # Some backends build URLs from MOTO_PORT (moto/settings.py); `python -m moto.server` sets it too.
    os.environ["MOTO_PORT"] = str(server.server_port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    if args.exit_with_stdin:
        exit_when_stdin_closes()
    print(f"MOTO_READY {server.server_port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
