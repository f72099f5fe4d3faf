// The parts of rxjs the collector uses, each from its own module. `require('rxjs')` loads all of
// rxjs (223 modules: ajax, every operator and observable creator), about twice the memory of the
// modules below (docs/benchmarks.md, *Memory*). rxjs 7.8 exports
// `rxjs/internal/*` (package.json "exports"), with types under dist/types ("typesVersions").
// Import rxjs from here, never from 'rxjs', or the whole package comes back.
//
// Values come from the deep modules; their types are the public ones of 'rxjs' (a type-only
// import, which loads nothing), so the declarations we publish never name `rxjs/internal/*`: an
// embedder's types do not depend on rxjs's private layout. spec/package/internals.spec.ts checks
// that each deep module still exports the very object 'rxjs' does, so an rxjs that moves one
// fails the suite rather than the daemon.
import type * as Rx from 'rxjs';
import { Observable as ObservableImpl } from 'rxjs/internal/Observable';
import { Subject as SubjectImpl } from 'rxjs/internal/Subject';
import { BehaviorSubject as BehaviorSubjectImpl } from 'rxjs/internal/BehaviorSubject';
import { ReplaySubject as ReplaySubjectImpl } from 'rxjs/internal/ReplaySubject';
import { Subscription as SubscriptionImpl } from 'rxjs/internal/Subscription';
import { asyncScheduler as asyncSchedulerImpl } from 'rxjs/internal/scheduler/async';
import { firstValueFrom as firstValueFromImpl } from 'rxjs/internal/firstValueFrom';
import { EMPTY as EMPTYImpl } from 'rxjs/internal/observable/empty';
import { concat as concatImpl } from 'rxjs/internal/observable/concat';
import { defer as deferImpl } from 'rxjs/internal/observable/defer';
import { from as fromImpl } from 'rxjs/internal/observable/from';
import { interval as intervalImpl } from 'rxjs/internal/observable/interval';
import { merge as mergeImpl } from 'rxjs/internal/observable/merge';
import { of as ofImpl } from 'rxjs/internal/observable/of';
import { throwError as throwErrorImpl } from 'rxjs/internal/observable/throwError';
import { timer as timerImpl } from 'rxjs/internal/observable/timer';
import { catchError as catchErrorImpl } from 'rxjs/internal/operators/catchError';
import { concatMap as concatMapImpl } from 'rxjs/internal/operators/concatMap';
import { concatWith as concatWithImpl } from 'rxjs/internal/operators/concatWith';
import { connect as connectImpl } from 'rxjs/internal/operators/connect';
import { debounceTime as debounceTimeImpl } from 'rxjs/internal/operators/debounceTime';
import { endWith as endWithImpl } from 'rxjs/internal/operators/endWith';
import { filter as filterImpl } from 'rxjs/internal/operators/filter';
import { finalize as finalizeImpl } from 'rxjs/internal/operators/finalize';
import { groupBy as groupByImpl } from 'rxjs/internal/operators/groupBy';
import { ignoreElements as ignoreElementsImpl } from 'rxjs/internal/operators/ignoreElements';
import { map as mapImpl } from 'rxjs/internal/operators/map';
import { mergeMap as mergeMapImpl } from 'rxjs/internal/operators/mergeMap';
import { pairwise as pairwiseImpl } from 'rxjs/internal/operators/pairwise';
import { retry as retryImpl } from 'rxjs/internal/operators/retry';
import { scan as scanImpl } from 'rxjs/internal/operators/scan';
import { startWith as startWithImpl } from 'rxjs/internal/operators/startWith';
import { switchMap as switchMapImpl } from 'rxjs/internal/operators/switchMap';
import { take as takeImpl } from 'rxjs/internal/operators/take';
import { takeUntil as takeUntilImpl } from 'rxjs/internal/operators/takeUntil';
import { takeWhile as takeWhileImpl } from 'rxjs/internal/operators/takeWhile';
import { tap as tapImpl } from 'rxjs/internal/operators/tap';
import { identity as identityImpl } from 'rxjs/internal/util/identity';
import { repeat as repeatImpl } from 'rxjs/internal/operators/repeat';

export const Observable: typeof Rx.Observable = ObservableImpl;
export type Observable<T> = Rx.Observable<T>;
export const Subject: typeof Rx.Subject = SubjectImpl;
export type Subject<T> = Rx.Subject<T>;
export const BehaviorSubject: typeof Rx.BehaviorSubject = BehaviorSubjectImpl;
export type BehaviorSubject<T> = Rx.BehaviorSubject<T>;
export const ReplaySubject: typeof Rx.ReplaySubject = ReplaySubjectImpl;
export type ReplaySubject<T> = Rx.ReplaySubject<T>;
export const Subscription: typeof Rx.Subscription = SubscriptionImpl;
export type Subscription = Rx.Subscription;
export type Subscriber<T> = Rx.Subscriber<T>;
export type Observer<T> = Rx.Observer<T>;
export const asyncScheduler: typeof Rx.asyncScheduler = asyncSchedulerImpl;
export const firstValueFrom: typeof Rx.firstValueFrom = firstValueFromImpl;
export type { MonoTypeOperatorFunction, OperatorFunction, SchedulerAction, SchedulerLike } from 'rxjs';

export const EMPTY: typeof Rx.EMPTY = EMPTYImpl;
export const concat: typeof Rx.concat = concatImpl;
export const defer: typeof Rx.defer = deferImpl;
export const from: typeof Rx.from = fromImpl;
export const interval: typeof Rx.interval = intervalImpl;
export const merge: typeof Rx.merge = mergeImpl;
export const of: typeof Rx.of = ofImpl;
export const throwError: typeof Rx.throwError = throwErrorImpl;
export const timer: typeof Rx.timer = timerImpl;

export const catchError: typeof Rx.catchError = catchErrorImpl;
export const concatMap: typeof Rx.concatMap = concatMapImpl;
export const concatWith: typeof Rx.concatWith = concatWithImpl;
export const connect: typeof Rx.connect = connectImpl;
export const debounceTime: typeof Rx.debounceTime = debounceTimeImpl;
export const endWith: typeof Rx.endWith = endWithImpl;
export const filter: typeof Rx.filter = filterImpl;
export const finalize: typeof Rx.finalize = finalizeImpl;
export const groupBy: typeof Rx.groupBy = groupByImpl;
export type GroupedObservable<K, T> = Rx.GroupedObservable<K, T>;
export const ignoreElements: typeof Rx.ignoreElements = ignoreElementsImpl;
export const map: typeof Rx.map = mapImpl;
export const mergeMap: typeof Rx.mergeMap = mergeMapImpl;
export const pairwise: typeof Rx.pairwise = pairwiseImpl;
export const retry: typeof Rx.retry = retryImpl;
export const scan: typeof Rx.scan = scanImpl;
export const startWith: typeof Rx.startWith = startWithImpl;
export const switchMap: typeof Rx.switchMap = switchMapImpl;
export const take: typeof Rx.take = takeImpl;
export const takeUntil: typeof Rx.takeUntil = takeUntilImpl;
export const takeWhile: typeof Rx.takeWhile = takeWhileImpl;
export const tap: typeof Rx.tap = tapImpl;
export const identity: typeof Rx.identity = identityImpl;
export const repeat: typeof Rx.repeat = repeatImpl;
