"""Jobs simulator: Job Search and JYMBII impressions as Avro files (LiRank §5.3, §A.8).

One data set serves both products: every request is a Job Search query (``channel`` =
``job_search``, with query titles / skills / company / industry / seniority) or a JYMBII
("Jobs You Might Be Interested In") recommendation (``jymbii``, empty query fields). A
relevance-biased logging policy shows ``session_length`` of the live job postings; the member
clicks with a channel-specific logit (Job Search: query-title match and query company;
JYMBII: taste-title match, skill overlap and their interaction; both: industry match,
seniority gap, company attractiveness, position, distance) and applies after a click with a
logit of required-skill overlap, seniority fit and competition. ``oracle_click`` and
``oracle_apply`` (= P(click) x P(apply | click)) are the true probabilities.

The 40 categorical features (``ID_FEATURES``) draw from 5 vocabularies: title, skill,
company, industry and seniority (``title:12``, ``skill:3``, ...). Members' applied / viewed
job features come from the simulated applies and clicks of earlier days (seeded with a few
past applications). Deterministic given the seed.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from pathlib import Path

import numpy as np

from lirank_tf.sim.day_files import (check_days_and_codec, check_positive, id_names,
                                     sigmoid, write_day_files)
from lirank_tf.sim.jobs_world import JobsWorld, concat_jobs

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "data" / "schemas" / "jobs.avsc"
CHANNELS = ("job_search", "jymbii")
ENTITIES = ("title", "skill", "company", "industry", "seniority")
DENSE_SIZE = 14
# {feature: (vocabulary, is_list)}: the 40 categorical features, 8 per shared table
ID_FEATURES = {
    "member_title": ("title", False), "member_past_titles": ("title", True),
    "member_desired_titles": ("title", True), "job_title": ("title", False),
    "job_similar_titles": ("title", True), "query_titles": ("title", True),
    "member_applied_job_titles": ("title", True), "member_viewed_job_titles": ("title", True),
    "member_skills": ("skill", True), "member_endorsed_skills": ("skill", True),
    "member_top_skill": ("skill", False), "job_required_skills": ("skill", True),
    "job_preferred_skills": ("skill", True), "query_skills": ("skill", True),
    "member_applied_job_skills": ("skill", True), "company_top_skills": ("skill", True),
    "member_company": ("company", False), "member_past_companies": ("company", True),
    "member_followed_companies": ("company", True), "job_company": ("company", False),
    "job_company_competitors": ("company", True), "query_companies": ("company", True),
    "member_applied_companies": ("company", True), "member_viewed_companies": ("company", True),
    "member_industry": ("industry", False), "member_past_industries": ("industry", True),
    "member_followed_industries": ("industry", True), "job_industry": ("industry", False),
    "query_industry": ("industry", False), "company_peer_industries": ("industry", True),
    "member_applied_industries": ("industry", True), "member_viewed_industries": ("industry", True),
    "member_seniority": ("seniority", False), "member_past_seniorities": ("seniority", True),
    "member_desired_seniority": ("seniority", False), "job_seniority": ("seniority", False),
    "job_min_seniority": ("seniority", False), "job_max_seniority": ("seniority", False),
    "query_seniority": ("seniority", False), "member_applied_seniorities": ("seniority", True),
}
HISTORY_LENGTH = 10


@dataclasses.dataclass
class JobsSimulatorConfig:
    num_days: int = 8
    valid_days: int = 1
    test_days: int = 1
    impressions_per_day: int = 12_000
    session_length: int = 5
    candidates_per_request: int = 40
    num_members: int = 3_000
    num_titles: int = 150
    num_skills: int = 300
    num_companies: int = 200
    num_industries: int = 25
    jobs_per_day: int = 400
    job_lifetime_days: int = 5
    latent_dim: int = 8
    job_search_fraction: float = 0.5
    codec: str = "deflate"
    seed: int = 0

    def __post_init__(self) -> None:
        check_days_and_codec(self.num_days, self.valid_days, self.test_days, self.codec)
        check_positive(self, "impressions_per_day", "session_length", "candidates_per_request",
                       "num_members", "num_titles", "num_skills", "num_companies", "num_industries",
                       "jobs_per_day", "job_lifetime_days", "latent_dim")
        if self.impressions_per_day < self.session_length:
            raise ValueError(f"impressions_per_day must be >= session_length, "
                             f"got {self.impressions_per_day}")
        if self.candidates_per_request < self.session_length:
            raise ValueError(f"candidates_per_request must be >= session_length, got "
                             f"{self.candidates_per_request}")
        if self.num_companies < 4 or self.num_industries < 2 or self.num_titles < 5:
            raise ValueError("num_companies must be >= 4, num_industries >= 2 and num_titles >= 5")
        if not 0.0 <= self.job_search_fraction <= 1.0:
            raise ValueError(f"job_search_fraction must be in [0, 1], got {self.job_search_fraction!r}")


def _overlap(have: np.ndarray, wanted: np.ndarray) -> float:
    return len(np.intersect1d(have, wanted)) / max(len(wanted), 1)


class JobsSimulator:
    def __init__(self, config: JobsSimulatorConfig) -> None:
        self.config = config
        self.rng = np.random.default_rng(config.seed)
        self.world = JobsWorld(config.num_members, config.num_titles, config.num_skills,
                               config.num_companies, config.num_industries, config.latent_dim, self.rng)
        self.jobs_by_day = []
        # per member: (title, skills, company, industry, seniority) of applied / clicked jobs
        self.applied = [deque(maxlen=HISTORY_LENGTH) for _ in range(config.num_members)]
        self.viewed = [deque(maxlen=HISTORY_LENGTH) for _ in range(config.num_members)]
        self.job_applies: dict[int, int] = {}   # applies so far per job id
        self._seed_histories()

    def _seed_histories(self) -> None:
        """A few applies and views before day 0, drawn near each member's desired titles."""
        world, rng = self.world, self.rng
        for member in range(self.config.num_members):
            desired = world.member_desired_titles[member]
            for history, count in ((self.applied[member], rng.integers(0, 3)),
                                   (self.viewed[member], rng.integers(0, 4))):
                for title in rng.choice(desired, count):
                    title = int(title) if rng.random() < 0.7 else int(world.similar_titles(title, 1)[0])
                    company = int(rng.integers(0, world.num_companies))
                    history.append((title, world.title_skills[title][:3], company,
                                    int(world.company_industry[company]),
                                    int(world.title_seniority[title])))

    def simulate_day(self, day: int) -> list[dict]:
        cfg, rng, world = self.config, self.rng, self.world
        self.jobs_by_day = [(d, j) for d, j in self.jobs_by_day if d > day - cfg.job_lifetime_days]
        self.jobs_by_day.append((day, world.post_jobs(cfg.jobs_per_day, day)))
        pool = concat_jobs([j for _, j in self.jobs_by_day])
        pool_ids = np.concatenate([d * 100_000 + np.arange(len(j.title)) for d, j in self.jobs_by_day])

        n_requests = cfg.impressions_per_day // cfg.session_length
        activity = world.member_activity
        members = rng.choice(cfg.num_members, n_requests, p=activity / activity.sum())
        search = rng.random(n_requests) < cfg.job_search_fraction
        taste = world.member_preference(members)
        query_title = np.array([rng.choice(np.append(world.member_desired_titles[m],
                                                     world.member_title[m])) for m in members])
        intent = np.where(search[:, None], world.title_factor[query_title], taste)
        candidates = rng.integers(0, len(pool.title), (n_requests, cfg.candidates_per_request))
        relevance = np.einsum("rk,rck->rc", intent, world.title_factor[pool.title[candidates]])
        policy = 3.0 * relevance + rng.gumbel(0.0, 1.0, relevance.shape)
        order = np.argsort(-policy, axis=1)[:, :cfg.session_length]
        shown = np.take_along_axis(candidates, order, axis=1)

        records = []
        for r in range(n_requests):
            m = int(members[r])
            query = self._query(m, int(query_title[r])) if search[r] else None
            for position, job in enumerate(shown[r]):
                record = self._impression(day, r, position, m, query, pool, int(job), int(pool_ids[job]),
                                          taste[r], query_title[r])
                records.append(record)
        self._update_histories(records, pool, shown.reshape(-1))
        return records

    def _query(self, member: int, title: int) -> dict:
        world, rng = self.world, self.rng
        titles = [title] + ([int(world.similar_titles(title, 1)[0])] if rng.random() < 0.3 else [])
        skills = rng.choice(world.member_skills[member], rng.integers(0, 3), replace=False)
        companies = [int(rng.integers(0, world.num_companies))] if rng.random() < 0.2 else []
        return {"titles": titles, "skills": skills, "companies": companies,
                "industry": int(world.member_industry[member]) if rng.random() < 0.3 else None,
                "seniority": int(world.member_desired_seniority[member]) if rng.random() < 0.3 else None}

    def _impression(self, day, request, position, m, query, pool, job, job_id, taste,
                    query_title) -> dict:
        world, rng = self.world, self.rng
        title, company = int(pool.title[job]), int(pool.company[job])
        industry, seniority = int(world.company_industry[company]), int(pool.seniority[job])
        job_skills = np.union1d(pool.required_skills[job], pool.preferred_skills[job])
        skill_overlap = _overlap(world.member_skills[m], job_skills)
        required_overlap = _overlap(world.member_skills[m], pool.required_skills[job])
        seniority_gap = abs(int(world.member_seniority[m]) - seniority)
        desired = world.member_desired_seniority[m]
        in_range = float(pool.min_seniority[job] <= desired <= pool.max_seniority[job])
        industry_match = float(world.member_industry[m] == industry)
        attractiveness = world.company_attractiveness[company]
        applicants = self.job_applies.get(job_id, 0) + rng.poisson(5.0 * (day - pool.posted_day[job] + 1))
        distance = rng.lognormal(3.0, 1.0)
        common = (0.5 * attractiveness - 0.15 * np.log1p(distance) - 0.12 * position)
        if query is not None:
            title_match = float(world.title_factor[query_title] @ world.title_factor[title])
            company_match = float(company in query["companies"])
            click_logit = (-2.6 + 2.6 * title_match + 0.8 * skill_overlap + 0.3 * industry_match
                           - 0.3 * seniority_gap + 1.0 * company_match
                           + 0.5 * world.member_click_propensity[m] + common)
        else:
            title_match = float(taste @ world.title_factor[title])
            click_logit = (-3.3 + 2.6 * title_match + 1.4 * skill_overlap
                           + 1.0 * title_match * skill_overlap
                           + 0.6 * industry_match - 0.45 * seniority_gap + 0.2 * attractiveness
                           + 0.8 * world.member_click_propensity[m] + common)
        apply_logit = (-1.0 + 2.5 * required_overlap - 0.6 * seniority_gap + 0.5 * in_range
                       + world.member_apply_propensity[m] - 0.25 * np.log1p(applicants)
                       + (0.6 if query is not None else 0.0))
        p_click = float(sigmoid(click_logit))
        p_apply_given_click = float(sigmoid(apply_logit))
        click = rng.random() < p_click
        apply = click and rng.random() < p_apply_given_click
        # matching features a feature pipeline computes from the profile, query and posting
        titles = set(world.member_desired_titles[m].tolist()) | {int(world.member_title[m])}
        matches = [skill_overlap, required_overlap, float(seniority_gap), industry_match,
                   float(title in (query["titles"] if query else [])), float(title in titles)]
        return self._record(day, request, position, m, query, pool, job, job_id, applicants, distance,
                            matches, click, apply, p_click, p_click * p_apply_given_click)

    def _record(self, day, request, position, m, query, pool, job, job_id, applicants, distance,
                matches, click, apply, p_click, p_apply) -> dict:
        world = self.world
        title, company = int(pool.title[job]), int(pool.company[job])
        industry = int(world.company_industry[company])
        applied, viewed = list(self.applied[m]), list(self.viewed[m])
        past_companies = world.member_past_companies[m]
        names = {
            "member_title": f"title:{world.member_title[m]}",
            "member_past_titles": id_names("title", world.member_past_titles[m]),
            "member_desired_titles": id_names("title", world.member_desired_titles[m]),
            "job_title": f"title:{title}",
            "job_similar_titles": id_names("title", pool.similar_titles[job]),
            "query_titles": id_names("title", query["titles"]) if query else [],
            "member_applied_job_titles": id_names("title", [a[0] for a in applied]),
            "member_viewed_job_titles": id_names("title", [v[0] for v in viewed]),
            "member_skills": id_names("skill", world.member_skills[m]),
            "member_endorsed_skills": id_names("skill", world.member_endorsed_skills[m]),
            "member_top_skill": f"skill:{world.member_endorsed_skills[m][0]}",
            "job_required_skills": id_names("skill", pool.required_skills[job]),
            "job_preferred_skills": id_names("skill", pool.preferred_skills[job]),
            "query_skills": id_names("skill", query["skills"]) if query else [],
            "member_applied_job_skills": id_names(
                "skill", sorted({int(s) for a in applied for s in a[1]})),
            "company_top_skills": id_names("skill", world.company_top_skills[company]),
            "member_company": f"company:{world.member_company[m]}",
            "member_past_companies": id_names("company", past_companies),
            "member_followed_companies": id_names("company", world.member_followed_companies[m]),
            "job_company": f"company:{company}",
            "job_company_competitors": id_names("company", world.company_competitors[company]),
            "query_companies": id_names("company", query["companies"]) if query else [],
            "member_applied_companies": id_names("company", [a[2] for a in applied]),
            "member_viewed_companies": id_names("company", [v[2] for v in viewed]),
            "member_industry": f"industry:{world.member_industry[m]}",
            "member_past_industries": id_names("industry", world.company_industry[past_companies]),
            "member_followed_industries": id_names("industry", world.member_followed_industries[m]),
            "job_industry": f"industry:{industry}",
            "query_industry": (f"industry:{query['industry']}"
                               if query and query["industry"] is not None else ""),
            "company_peer_industries": id_names("industry", world.industry_peers[industry]),
            "member_applied_industries": id_names("industry", [a[3] for a in applied]),
            "member_viewed_industries": id_names("industry", [v[3] for v in viewed]),
            "member_seniority": f"seniority:{world.member_seniority[m]}",
            "member_past_seniorities": id_names(
                "seniority", world.title_seniority[world.member_past_titles[m]]),
            "member_desired_seniority": f"seniority:{world.member_desired_seniority[m]}",
            "job_seniority": f"seniority:{pool.seniority[job]}",
            "job_min_seniority": f"seniority:{pool.min_seniority[job]}",
            "job_max_seniority": f"seniority:{pool.max_seniority[job]}",
            "query_seniority": (f"seniority:{query['seniority']}"
                                if query and query["seniority"] is not None else ""),
            "member_applied_seniorities": id_names("seniority", [a[4] for a in applied]),
        }
        dense = [day - float(pool.posted_day[job]), float(applicants), float(pool.salary[job]),
                 float(world.member_years[m]), float(distance), float(world.member_activity[m]),
                 float(len(viewed)), float(world.company_size[company]), *matches]
        return {"day": day, "request_id": day * 1_000_000 + request, "position": position,
                "channel": CHANNELS[0] if query is not None else CHANNELS[1],
                "member_id": f"member:{m}", "job_id": f"job:{job_id}", **names, "dense_features": dense,
                "click": int(click), "apply": int(apply),
                "oracle_click": p_click, "oracle_apply": p_apply}

    def _update_histories(self, records: list[dict], pool, jobs: np.ndarray) -> None:
        """Clicks and applies of day d become member features from day d + 1."""
        world = self.world
        for record, job in zip(records, jobs):
            if not record["click"]:
                continue
            member = int(record["member_id"].split(":")[1])
            company = int(pool.company[job])
            entry = (int(pool.title[job]), pool.required_skills[job], company,
                     int(world.company_industry[company]), int(pool.seniority[job]))
            self.viewed[member].append(entry)
            if record["apply"]:
                self.applied[member].append(entry)
                job_id = int(record["job_id"].split(":")[1])
                self.job_applies[job_id] = self.job_applies.get(job_id, 0) + 1


def simulate_jobs(output_dir: str | Path,
                  config: JobsSimulatorConfig | None = None) -> dict[str, list[str]]:
    """Writes one Avro file per simulated day under ``output_dir`` and a ``manifest.json``.

    Returns: {"train": [...], "valid": [...], "test": [...]} file paths.
    """
    config = config or JobsSimulatorConfig()
    simulator = JobsSimulator(config)
    return write_day_files(output_dir, SCHEMA_PATH, config, simulator.simulate_day)
