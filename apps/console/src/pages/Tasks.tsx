import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useNavigate, useParams } from 'react-router-dom';
import { api, downloadBlob, enc, qs } from '../api';
import { formatUsd } from '../money';
import type { ListOf, TaskEventView, TaskView } from '../types';
import { Badge, Empty, ErrorBox, Loading, Mono, PageHeader, QueryState, TableWrap, Time } from '../ui';

const STATUSES = ['', 'queued', 'running', 'succeeded', 'failed', 'cancelled'];
const FINAL = ['succeeded', 'failed', 'cancelled'];

function taskTone(s: string): 'ok' | 'bad' | 'warn' | 'info' | 'neutral' {
  return s === 'succeeded' ? 'ok' : s === 'failed' ? 'bad' : s === 'cancelled' ? 'neutral' : s === 'running' ? 'info' : 'warn';
}

/** every http(s) URL inside a task's result */
function urlsIn(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') {
    if (/^https?:\/\//.test(v)) out.push(v);
  } else if (Array.isArray(v)) {
    for (const x of v) urlsIn(x, out);
  } else if (v && typeof v === 'object') {
    for (const x of Object.values(v)) urlsIn(x, out);
  }
  return out;
}

export function Tasks() {
  const { taskId } = useParams();
  const navigate = useNavigate();
  const [status, setStatus] = useState('');
  const list = useQuery({
    queryKey: ['tasks', status],
    queryFn: () => api<ListOf<TaskView>>(`/v1/account/tasks${qs({ limit: 50, status })}`),
    refetchInterval: (q) => (q.state.data?.data.some((t) => !FINAL.includes(t.status)) ? 5000 : false),
  });
  return (
    <div className="page">
      <PageHeader title="Tasks" subtitle="Async jobs (video, Midjourney, images), newest first." />
      <div className="card toolbar">
        <label className="field">
          <span>Status</span>
          <select data-testid="tasks-status" value={status} onChange={(e) => setStatus(e.target.value)}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s || 'any'}
              </option>
            ))}
          </select>
        </label>
      </div>
      {taskId ? <TaskDetail id={taskId} onClose={() => navigate('/tasks')} /> : null}
      <QueryState query={list}>
        {(d) =>
          d.data.length === 0 ? (
            <Empty>{status ? `No ${status} tasks.` : 'No tasks yet.'}</Empty>
          ) : (
            <TableWrap testId="tasks-table" label="Tasks">
              <thead>
                <tr>
                  <th>Created</th>
                  <th>Task id</th>
                  <th>Type</th>
                  <th>Model</th>
                  <th>Status</th>
                  <th className="num">Progress</th>
                  <th className="num">Cost</th>
                  <th>Updated</th>
                </tr>
              </thead>
              <tbody>
                {d.data.map((t) => (
                  <tr
                    key={t.id}
                    data-testid="task-row"
                    data-task-id={t.id}
                    className={`clickable${t.id === taskId ? ' selected' : ''}`}
                    tabIndex={0}
                    onClick={() => navigate(`/tasks/${enc(t.id)}`)}
                    onKeyDown={(e) => e.key === 'Enter' && navigate(`/tasks/${enc(t.id)}`)}
                  >
                    <td>
                      <Time iso={t.created_at} />
                    </td>
                    <td>
                      <Mono>{t.id}</Mono>
                    </td>
                    <td>{t.type}</td>
                    <td>{t.model}</td>
                    <td>
                      <Badge tone={taskTone(t.status)}>{t.status}</Badge>
                    </td>
                    <td className="num">{Math.round(t.progress ?? 0)}%</td>
                    <td className="num">{formatUsd(t.cost_micros)}</td>
                    <td>
                      <Time iso={t.updated_at} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </TableWrap>
          )
        }
      </QueryState>
    </div>
  );
}

function TaskDetail({ id, onClose }: { id: string; onClose: () => void }) {
  const task = useQuery({
    queryKey: ['task', id],
    queryFn: () => api<TaskView>(`/v1/tasks/${enc(id)}`),
    refetchInterval: (q) => (q.state.data && !FINAL.includes(q.state.data.status) ? 3000 : false),
  });
  const running = task.data ? !FINAL.includes(task.data.status) : false;
  const events = useQuery({
    queryKey: ['task-events', id],
    queryFn: () => api<ListOf<TaskEventView>>(`/v1/tasks/${enc(id)}/events`),
    refetchInterval: running ? 3000 : false,
  });
  const [dlError, setDlError] = useState<unknown>(null);
  const urls = task.data ? [...new Set(urlsIn(task.data.result))] : [];

  return (
    <section className="card detail" data-testid="task-detail">
      <div className="detail-head">
        <h2>
          Task <Mono>{id}</Mono>
        </h2>
        <button type="button" className="btn btn-ghost" onClick={onClose}>
          Close
        </button>
      </div>
      {task.isPending ? (
        <Loading />
      ) : task.isError ? (
        <ErrorBox error={task.error} />
      ) : (
        <>
          <dl className="kv">
            <dt>Status</dt>
            <dd>
              <Badge tone={taskTone(task.data.status)}>{task.data.status}</Badge> {Math.round(task.data.progress ?? 0)}%
            </dd>
            <dt>Type · model</dt>
            <dd>
              {task.data.type} · {task.data.model}
            </dd>
            <dt>Cost</dt>
            <dd>{formatUsd(task.data.cost_micros)}</dd>
            <dt>Created</dt>
            <dd>
              <Time iso={task.data.created_at} />
            </dd>
          </dl>
          {urls.length ? (
            <div>
              <h3>Output</h3>
              <ul className="links" data-testid="task-outputs">
                {urls.map((u) => (
                  <li key={u}>
                    <a href={u} target="_blank" rel="noopener noreferrer">
                      {u}
                    </a>
                  </li>
                ))}
              </ul>
            </div>
          ) : null}
          {task.data.type === 'video' && task.data.status === 'succeeded' ? (
            <p>
              <button
                type="button"
                className="btn btn-secondary"
                onClick={async () => {
                  setDlError(null);
                  try {
                    await downloadBlob(`/v1/tasks/${enc(id)}/content`, `${id}.mp4`);
                  } catch (e) {
                    setDlError(e);
                  }
                }}
              >
                Download the video
              </button>
              {dlError ? <ErrorBox error={dlError} /> : null}
            </p>
          ) : null}
          {task.data.result !== null && task.data.result !== undefined ? (
            <details>
              <summary>Result</summary>
              <pre className="json">{JSON.stringify(task.data.result, null, 2)}</pre>
            </details>
          ) : null}
          {task.data.error ? (
            <div className="state state-error">
              <strong>Task error: </strong>
              {typeof task.data.error === 'object' && task.data.error && 'message' in task.data.error ? String((task.data.error as { message: unknown }).message) : JSON.stringify(task.data.error)}
            </div>
          ) : null}
        </>
      )}
      <h3>Events</h3>
      {events.isPending ? (
        <Loading />
      ) : events.isError ? (
        <ErrorBox error={events.error} />
      ) : events.data.data.length === 0 ? (
        <Empty>No events yet.</Empty>
      ) : (
        <ol className="events" data-testid="task-events">
          {events.data.data.map((ev) => (
            <li key={ev.seq}>
              <span className="event-seq">#{ev.seq}</span> <Badge tone="neutral">{ev.type}</Badge> <Time iso={ev.at} />
              {ev.data !== null && ev.data !== undefined && !(typeof ev.data === 'object' && Object.keys(ev.data as object).length === 0) ? (
                <pre className="json small">{JSON.stringify(ev.data)}</pre>
              ) : null}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
