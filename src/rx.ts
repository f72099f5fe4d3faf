// The parts of rxjs the collector uses, each from its own module. `require('rxjs')` loads all of
// rxjs (223 modules: ajax, every operator and observable creator): +10.6 MB RSS over bare node on
// Node 20.20 / rxjs 7.8.2, against +5.6 MB for rxjs/internal/Observable alone. rxjs 7.8 exports
// `rxjs/internal/*` (package.json "exports"), with types under dist/types ("typesVersions").
// Import rxjs from here, never from 'rxjs', or the whole package comes back.
export { Observable } from 'rxjs/internal/Observable';
export { Subject } from 'rxjs/internal/Subject';
export { BehaviorSubject } from 'rxjs/internal/BehaviorSubject';
export { ReplaySubject } from 'rxjs/internal/ReplaySubject';
export { Subscription } from 'rxjs/internal/Subscription';
export { asyncScheduler } from 'rxjs/internal/scheduler/async';
export { firstValueFrom } from 'rxjs/internal/firstValueFrom';
export type { MonoTypeOperatorFunction, OperatorFunction, SchedulerAction, SchedulerLike } from 'rxjs/internal/types';

export { EMPTY } from 'rxjs/internal/observable/empty';
export { concat } from 'rxjs/internal/observable/concat';
export { defer } from 'rxjs/internal/observable/defer';
export { from } from 'rxjs/internal/observable/from';
export { interval } from 'rxjs/internal/observable/interval';
export { merge } from 'rxjs/internal/observable/merge';
export { of } from 'rxjs/internal/observable/of';
export { throwError } from 'rxjs/internal/observable/throwError';
export { timer } from 'rxjs/internal/observable/timer';

export { catchError } from 'rxjs/internal/operators/catchError';
export { concatMap } from 'rxjs/internal/operators/concatMap';
export { concatWith } from 'rxjs/internal/operators/concatWith';
export { connect } from 'rxjs/internal/operators/connect';
export { debounceTime } from 'rxjs/internal/operators/debounceTime';
export { endWith } from 'rxjs/internal/operators/endWith';
export { filter } from 'rxjs/internal/operators/filter';
export { finalize } from 'rxjs/internal/operators/finalize';
export { groupBy, type GroupedObservable } from 'rxjs/internal/operators/groupBy';
export { ignoreElements } from 'rxjs/internal/operators/ignoreElements';
export { map } from 'rxjs/internal/operators/map';
export { mergeMap } from 'rxjs/internal/operators/mergeMap';
export { pairwise } from 'rxjs/internal/operators/pairwise';
export { retry } from 'rxjs/internal/operators/retry';
export { scan } from 'rxjs/internal/operators/scan';
export { startWith } from 'rxjs/internal/operators/startWith';
export { switchMap } from 'rxjs/internal/operators/switchMap';
export { take } from 'rxjs/internal/operators/take';
export { takeUntil } from 'rxjs/internal/operators/takeUntil';
export { takeWhile } from 'rxjs/internal/operators/takeWhile';
export { tap } from 'rxjs/internal/operators/tap';
export { identity } from 'rxjs/internal/util/identity';
export { repeat } from 'rxjs/internal/operators/repeat';
